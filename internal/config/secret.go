package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxPasswordFile bounds what Password reads from a password file.
const maxPasswordFile = 64 << 10

// Password returns the password for s: the contents of PasswordFile without
// trailing newlines, or the value of the environment variable PasswordEnv.
//
// A password file that group or others may access in any way (mode &
// 0o077 != 0) is refused, as ssh refuses such a private key: a password that
// other users could read is already leaked, and an unattended bot should fail
// loudly rather than run with it. The error says how to fix the mode.
func (s Server) Password() (string, error) {
	switch {
	case s.PasswordFile != "":
		f, err := os.Open(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		if !st.Mode().IsRegular() {
			return "", fmt.Errorf("password file %s is not a regular file", s.PasswordFile)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			return "", fmt.Errorf("password file %s has mode %#o: it must not be accessible to group or others (chmod 600 %s)", s.PasswordFile, perm, s.PasswordFile)
		}
		data, err := io.ReadAll(io.LimitReader(f, maxPasswordFile+1))
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		if len(data) > maxPasswordFile {
			return "", fmt.Errorf("password file %s is larger than %d bytes", s.PasswordFile, maxPasswordFile)
		}
		pw := strings.TrimRight(string(data), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("password file %s is empty", s.PasswordFile)
		}
		return pw, nil
	case s.PasswordEnv != "":
		pw, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("environment variable %s (password_env) is not set", s.PasswordEnv)
		}
		if pw == "" {
			return "", fmt.Errorf("environment variable %s (password_env) is empty", s.PasswordEnv)
		}
		return pw, nil
	}
	return "", errors.New("no password configured: set password_file or password_env")
}
