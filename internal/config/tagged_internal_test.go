package config

// agentTemplateValues is every tagged value by field path, as FuzzLoad
// reads them.
func (c *VaultCA) agentTemplateValues() map[string]string {
	m := map[string]string{}
	for _, tv := range c.templateValues() {
		m[tv.field()] = *tv.v
	}
	return m
}
