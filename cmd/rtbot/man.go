package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd is `rtbot man DIR`, hidden: it writes the man pages, rtbot.1
// and one rtbot-COMMAND.1 per command, into DIR, from the same
// definitions as the help (cobra/doc). A package runs it at build time;
// `man ./rtbot.1` reads one in place.
func newManCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "write the man pages (rtbot.1, rtbot-COMMAND.1) into DIR",
		Hidden: true,
		Args:   exactArgs(1, "name the directory to write the man pages into"),
		RunE: func(c *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			date, err := manDate(e.getenv)
			if err != nil {
				return err
			}
			n, err := writeManPages(c.Root(), args[0], date)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %d man page(s) to %s\n", n, args[0])
			return nil
		},
	}
}

// manDate is the date the man pages carry: $SOURCE_DATE_EPOCH's, for a
// reproducible build, else the VCS commit's, else today.
func manDate(getenv func(string) string) (time.Time, error) {
	if epoch := getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", epoch)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	settings := readBuildInfo()
	if settings.ok && settings.info != nil {
		for _, s := range settings.info.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					return t, nil
				}
			}
		}
	}
	return time.Now(), nil
}

// writeManPages writes the man page of root and of each of its commands
// into dir, dated date, and returns how many it wrote. rtbot.1 has the sections cobra/doc does not make: EXIT
// STATUS, from the one table of exit codes, and FILES.
func writeManPages(root *cobra.Command, dir string, date time.Time) (int, error) {
	root.Long = rootLong // the sections below say the rest
	root.InitDefaultCompletionCmd()
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "RTBOT", Section: "1", Date: &date, Source: firstLine(root.Version), Manual: "rtbot manual"}
	n := 0
	for _, c := range append([]*cobra.Command{root}, root.Commands()...) {
		if !c.IsAvailableCommand() && c != root {
			continue
		}
		h := *header
		h.Title = strings.ToUpper(strings.ReplaceAll(c.CommandPath(), " ", "-"))
		var buf bytes.Buffer
		if err := doc.GenMan(c, &h, &buf); err != nil {
			return n, fmt.Errorf("man page of %s: %w", c.CommandPath(), err)
		}
		page := buf.Bytes()
		if c == root {
			page = insertBefore(page, ".SH SEE ALSO", manExitStatus()+manFiles())
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		if err := os.WriteFile(filepath.Join(dir, name), page, 0o644); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// manExitStatus is the EXIT STATUS section of rtbot.1, in roff.
func manExitStatus() string {
	var b strings.Builder
	b.WriteString(".SH EXIT STATUS\n")
	for _, s := range exitCodes() {
		fmt.Fprintf(&b, ".TP\n\\fB%d\\fP\n%s\n", s.Code, roffText(s.What))
	}
	return b.String()
}

// manFiles is the FILES section of rtbot.1, in roff.
func manFiles() string {
	return ".SH FILES\n" +
		".TP\n\\fI$XDG_CONFIG_HOME/rtbot/rtbot.toml\\fP, \\fI~/.config/rtbot/rtbot.toml\\fP\n" +
		"The user's configuration, when neither \\fB\\-\\-config\\fP nor \\fB$RTBOT_CONFIG\\fP names one.\n" +
		".TP\n\\fI" + systemConfig + "\\fP\n" +
		"The system's configuration, when none of the above exists.\n"
}

// roffText is s as roff text: backslashes escaped, and no line that
// starts with a control character.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// insertBefore is page with text inserted before the line that starts
// with mark, or at its end when none does.
func insertBefore(page []byte, mark, text string) []byte {
	s := string(page)
	i := strings.Index(s, "\n"+mark)
	if i < 0 {
		return []byte(s + text)
	}
	return []byte(s[:i+1] + text + s[i+1:])
}

// firstLine is the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
