// Command vulncheck is `make vulncheck`'s helper: it builds a local Go
// vulnerability database for govulncheck, so that the check runs without
// reaching vuln.go.dev, and judges govulncheck's findings.
//
//	go run ./hack/vulncheck db -version v0.0.0-20261105234957-e22db6528018 -out DIR
//	govulncheck -db file://DIR -format json ./... | go run ./hack/vulncheck report
//
// # db
//
// The golang.org/x/vulndb module, served by the Go module proxy like any other,
// holds every report as an OSV entry in data/osv/GO-YYYY-NNNN.json. db fetches
// it with `go mod download` (checked against the checksum database like any
// module) and writes the layout govulncheck reads from a file:// URL (the
// database's "v1" schema):
//
//	index/db.json        {"modified": ...}
//	index/modules.json   per module, its entries' IDs and latest fixed versions
//	index/vulns.json     per entry, its ID, modified time and aliases
//	ID/GO-YYYY-NNNN.json the OSV entries, as the module has them
//
// The indexes are those golang.org/x/vulndb's own cmd/indexdb writes, byte for
// byte (indexdb itself builds only with some 60 modules of Cloud and git client
// code, about 900 MB). Only db.json differs: the module's entries carry no
// modified time (vuln.go.dev takes it from git history), so the database's is
// the module version's commit time, which govulncheck prints as "DB updated".
// The folder is built beside -out and renamed into place, so an -out with
// index/modules.json is complete. -osv DIR builds from a folder of OSV files
// instead (a vulndb checkout's data/osv).
//
// # report
//
// report reads govulncheck's JSON stream (-format json, symbol scan) on
// standard input and prints one line per vulnerability that the project's code
// reaches: its ID, module and version, fixed version, summary, and one call
// from the project's code that reaches it. It exits 1 when a required module
// has one. The standard library's are warned of but pass unless -stdlib=fail:
// they are fixed by a newer Go, which the machine's Go decides, not go.mod.
// Vulnerabilities in code that is imported or required but never called are
// counted, not listed; govulncheck's text output shows them (docs/development.md).
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "db":
		fs := flag.NewFlagSet("db", flag.ExitOnError)
		version := fs.String("version", "", "golang.org/x/vulndb module version to build from")
		osvDir := fs.String("osv", "", "build from this folder of OSV JSON files instead of the module")
		out := fs.String("out", "", "folder to write the database to (must not exist)")
		goCmd := fs.String("go", "go", "go command, for `go mod download`")
		_ = fs.Parse(args)
		if *out == "" || (*version == "") == (*osvDir == "") {
			usage()
		}
		if err := buildDB(*goCmd, *version, *osvDir, *out); err != nil {
			fmt.Fprintln(os.Stderr, "vulncheck db:", err)
			os.Exit(1)
		}
	case "report":
		fs := flag.NewFlagSet("report", flag.ExitOnError)
		stdlib := fs.String("stdlib", "warn", "reachable vulnerabilities in the standard library: warn or fail")
		_ = fs.Parse(args)
		if *stdlib != "warn" && *stdlib != "fail" {
			usage()
		}
		failed, err := report(os.Stdin, os.Stdout, *stdlib == "fail")
		if err != nil {
			fmt.Fprintln(os.Stderr, "vulncheck report:", err)
			os.Exit(2)
		}
		if failed {
			os.Exit(1)
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  vulncheck db (-version V | -osv DIR) -out DIR [-go GO]
  govulncheck -format json ... | vulncheck report [-stdlib warn|fail]`)
	os.Exit(2)
}
