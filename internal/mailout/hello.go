package mailout

import "context"

// Hello checks that s answers and takes rtbot's credentials, sending
// nothing: it connects, secures the connection as s.TLS says (STARTTLS
// included), greets the server (EHLO), authenticates (AUTH PLAIN) when
// s.Username is set, and says QUIT, each within s.Timeout. Its errors are
// Send's *Error, from stage "dial", "greeting", "tls" or "auth". A failed
// QUIT changes nothing: the server answered and took the credentials.
func Hello(ctx context.Context, s Server) error {
	_, c, release, err := connect(ctx, s)
	if err != nil {
		return err
	}
	defer release()
	_ = c.Quit()
	return nil
}
