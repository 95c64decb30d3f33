// Command vault is the real Vault binary (server and agent), built from the
// Vault Go module so the end-to-end tests need no download of a release.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
