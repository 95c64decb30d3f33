module github.com/istio-vault-ca/istio-vault-ca/tools/toolcache

go 1.26.8
