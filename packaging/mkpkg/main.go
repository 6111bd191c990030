// Command mkpkg builds one hubd package (.deb or .ipk) with nFPM used as a
// library. It reads an nFPM configuration in which ${NAME} is replaced by
// the environment variable NAME anywhere in the file (an unset variable is
// an error; $$ is a literal $), and writes the package to -target.
//
//	mkpkg -config nfpm/deb.yaml -packager deb -target out/hubd_1.0-1_amd64.deb
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	_ "github.com/goreleaser/nfpm/v2/ipk"
)

func main() {
	config := flag.String("config", "", "nFPM configuration `file` (YAML)")
	packager := flag.String("packager", "deb", "package format: deb or ipk")
	target := flag.String("target", "", "package `file` to write")
	flag.Parse()
	if *config == "" || *target == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*config, *packager, *target); err != nil {
		fmt.Fprintf(os.Stderr, "mkpkg: %v\n", err)
		os.Exit(1)
	}
}

func run(config, format, target string) error {
	raw, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	text, err := expand(string(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", config, err)
	}
	// Everything is expanded already; keep nFPM's own pass from touching
	// what is left.
	cfg, err := nfpm.ParseWithEnvMapping(strings.NewReader(text), func(name string) string { return "$" + name })
	if err != nil {
		return fmt.Errorf("%s: %w", config, err)
	}
	info, err := cfg.Get(format)
	if err != nil {
		return err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return fmt.Errorf("%s: %w", config, err)
	}
	pkg, err := nfpm.Get(format)
	if err != nil {
		return err
	}
	info.Target = target

	tmp, err := os.CreateTemp(filepath.Dir(target), ".mkpkg-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := pkg.Package(info, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s package: %w", format, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}

// expand replaces ${NAME} and $NAME with environment variables and fails
// on any that is unset.
func expand(s string) (string, error) {
	missing := map[string]bool{}
	out := os.Expand(s, func(name string) string {
		if name == "$" {
			return "$"
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			missing[name] = true
		}
		return v
	})
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("environment variables not set: %s", strings.Join(names, ", "))
	}
	return out, nil
}
