package main

import (
	"fmt"
	"path/filepath"
)

// systemConfig is the configuration file rtbot reads when nothing else
// names one (see configPath).
const systemConfig = "/etc/rtbot/rtbot.toml"

// configHelp is what `rtbot --help` says about where the configuration
// is; the man page's FILES section says the same.
const configHelp = `Configuration: the commands that read one take it from --config FILE, else
$RTBOT_CONFIG, else $XDG_CONFIG_HOME/rtbot/rtbot.toml ($XDG_CONFIG_HOME
defaults to ~/.config) when it exists, else ` + systemConfig + `.
Every key is explained in docs/rtbot.example.toml; 'rtbot check' checks it.`

// configPath is the configuration file to read: flag (--config) when
// given, else $RTBOT_CONFIG, else the user's
// $XDG_CONFIG_HOME/rtbot/rtbot.toml, else /etc/rtbot/rtbot.toml, the last
// two only when they exist. With none, the error (exit 78) names the
// places tried.
func configPath(flag string, getenv func(string) string, exists func(string) bool) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := getenv("RTBOT_CONFIG"); p != "" {
		return p, nil
	}
	user := userConfig(getenv)
	for _, p := range []string{user, systemConfig} {
		if p != "" && exists(p) {
			return p, nil
		}
	}
	if user == "" {
		user = "$XDG_CONFIG_HOME/rtbot/rtbot.toml (neither $XDG_CONFIG_HOME nor $HOME is set)"
	}
	return "", &notConfigured{err: fmt.Errorf("no configuration: no --config, $RTBOT_CONFIG is not set, no %s, no %s "+
		"(docs/rtbot.example.toml explains every key)", user, systemConfig)}
}

// userConfig is $XDG_CONFIG_HOME/rtbot/rtbot.toml, with $XDG_CONFIG_HOME
// ~/.config when unset (or not absolute, as the XDG spec says); "" when
// neither it nor $HOME is set.
func userConfig(getenv func(string) string) string {
	dir := getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "rtbot", "rtbot.toml")
}
