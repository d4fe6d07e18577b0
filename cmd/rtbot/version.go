package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// buildInfo is what versionText reads of the binary's build information.
type buildInfo struct {
	ok   bool // the binary has build information
	info *debug.BuildInfo
}

// readBuildInfo reads the running binary's build information.
func readBuildInfo() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	return buildInfo{ok: ok, info: bi}
}

// versionText is what `rtbot --version` prints: the module's version,
// the VCS revision, time and whether the tree was modified (as `go build`
// stamps them in a checkout), and the Go version, e.g.
//
//	rtbot (devel)
//	revision 3f3adb3c0ffee..., 2026-12-07T12:00:00Z, modified
//	go1.26.8 linux/amd64
func versionText(b buildInfo) string {
	version, goVersion := "(devel)", runtime.Version()
	settings := map[string]string{}
	if b.ok && b.info != nil {
		if v := b.info.Main.Version; v != "" {
			version = v
		}
		if b.info.GoVersion != "" {
			goVersion = b.info.GoVersion
		}
		for _, s := range b.info.Settings {
			settings[s.Key] = s.Value
		}
	}
	var s strings.Builder
	fmt.Fprintf(&s, "rtbot %s\n", version)
	rev := []string{"revision " + valueOr(settings["vcs.revision"], "unknown")}
	if t := settings["vcs.time"]; t != "" {
		rev = append(rev, t)
	}
	if settings["vcs.modified"] == "true" {
		rev = append(rev, "modified")
	}
	fmt.Fprintf(&s, "%s\n", strings.Join(rev, ", "))
	fmt.Fprintf(&s, "%s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return s.String()
}

// valueOr is v, or def when v is "".
func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// newVersionCmd is `rtbot version`, the same as `rtbot --version`.
func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print rtbot's version, its VCS revision and the Go version",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(c.OutOrStdout(), c.Root().Version)
			return err
		},
	}
}
