package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// maxSecretFile bounds what is read from a password, token or key file.
const maxSecretFile = 64 << 10

// Password returns the password for s: the contents of PasswordFile without
// trailing newlines, or the value of the environment variable PasswordEnv.
//
// A password file that group or others may access in any way (mode &
// 0o077 != 0) is refused, as ssh refuses such a private key: a password that
// other users could read is already leaked, and an unattended bot should fail
// loudly rather than run with it. The error says how to fix the mode.
func (s Server) Password() (string, error) {
	pw, ok, err := secret(s.PasswordFile, "password file", s.PasswordEnv, "password_env")
	if !ok {
		return "", errors.New("no password configured: set password_file or password_env")
	}
	return pw, err
}

// Token returns the token of a: the contents of TokenFile without trailing
// newlines, or the value of the environment variable TokenEnv; "" when
// neither is set. A token file is held to a password file's rules.
func (a RemoteAuth) Token() (string, error) {
	token, _, err := secret(a.TokenFile, "token file", a.TokenEnv, "token_env")
	return token, err
}

// secret returns the secret in file (named what in errors) without
// trailing newlines, or else the value of the environment variable env
// (named by key). ok is false when neither is set.
func secret(file, what, env, key string) (v string, ok bool, err error) {
	switch {
	case file != "":
		v, err = secretText(file, what)
		return v, true, err
	case env != "":
		v, err = secretEnv(env, key)
		return v, true, err
	}
	return "", false, nil
}

// SSHPrivateKey returns the contents of the SSHKey file; nil when it is not
// set. Like ssh, it refuses a key file that group or others may access.
func (a RemoteAuth) SSHPrivateKey() ([]byte, error) {
	if a.SSHKey == "" {
		return nil, nil
	}
	return readSecretFile(a.SSHKey, "ssh key")
}

// secretText returns the contents of the secret file path without trailing
// newlines; what names the file in errors.
func secretText(path, what string) (string, error) {
	data, err := readSecretFile(path, what)
	if err != nil {
		return "", err
	}
	v := strings.TrimRight(string(data), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%s %s is empty", what, path)
	}
	return v, nil
}

// secretEnv returns the value of the environment variable name, which key
// names; unset and empty are errors.
func secretEnv(name, key string) (string, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return "", fmt.Errorf("environment variable %s (%s) is not set", name, key)
	}
	if v == "" {
		return "", fmt.Errorf("environment variable %s (%s) is empty", name, key)
	}
	return v, nil
}

// readSecretFile reads the regular file path, which group and others must
// not be able to access, up to maxSecretFile bytes; what names it in
// errors.
func readSecretFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file", what, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s %s has mode %#o: it must not be accessible to group or others (chmod 600 %s)", what, path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Errorf("%s %s is larger than %d bytes", what, path, maxSecretFile)
	}
	return data, nil
}

// TokenTimeout bounds a token_command.
const TokenTimeout = 30 * time.Second

// maxTokenStderr bounds what a failing token_command's error output
// contributes to the error.
const maxTokenStderr = 512

// Token returns the OAuth2 access token of s (auth = "oauth2"): the
// contents of TokenFile, held to a password file's rules, or the standard
// output of TokenCommand, run without a shell within TokenTimeout; trailing
// newlines are dropped. The token is never stored, nor put in an error:
// a failing command's error names the command and shows the start of its
// standard error.
func (s Server) Token(ctx context.Context) (string, error) {
	if s.TokenFile != "" {
		return secretText(s.TokenFile, "token file")
	}
	if len(s.TokenCommand) == 0 {
		return "", errors.New("no access token configured: set token_file or token_command")
	}
	ctx, cancel := context.WithTimeout(ctx, TokenTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.TokenCommand[0], s.TokenCommand[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &limitedBuffer{b: &stdout, max: maxSecretFile}
	cmd.Stderr = &limitedBuffer{b: &stderr, max: maxTokenStderr}
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("token_command %s: no token within %v", s.TokenCommand[0], TokenTimeout)
	}
	if err != nil {
		return "", fmt.Errorf("token_command %s: %w: %s", s.TokenCommand[0], err, strings.TrimSpace(stderr.String()))
	}
	token := strings.TrimRight(stdout.String(), "\r\n")
	if token == "" || strings.ContainsAny(token, "\r\n\x00") {
		return "", fmt.Errorf("token_command %s: want one line holding the access token on standard output", s.TokenCommand[0])
	}
	return token, nil
}

// limitedBuffer keeps the first max bytes written to it and drops the
// rest, so that a runaway command cannot fill memory.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (w *limitedBuffer) Write(p []byte) (int, error) {
	if room := w.max - w.b.Len(); room > 0 {
		w.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
