// Package msgid is the one rule for Message-IDs: which identifiers rtbot
// accepts from list mail (mailwatch, when it recognises an announcement)
// and which it writes into the headers of its own mail (mailout: the
// report's Message-ID, and the announcement's in In-Reply-To and
// References). Both use Check, so every announcement rtbot acts on can be
// answered by a report threaded under it.
package msgid

import (
	"fmt"
	"regexp"
)

// MaxLen bounds a Message-ID, in bytes without the angle brackets: two of
// them and a header name stay far below RFC 5322's 998-octet line, so
// folding never has to split one.
const MaxLen = 250

// idRE is RFC 5322's msg-id (section 3.6.4) without the angle brackets, in
// its strict form and in ASCII: dot-atom-text "@" (dot-atom-text /
// no-fold-literal). No quoted strings, comments, whitespace or obsolete
// forms: none of them can be written back as they were read.
var idRE = regexp.MustCompile(`^` + dotAtom + `@(?:` + dotAtom + `|\[[!-Z^-~]*\])$`)

// dotAtom is dot-atom-text: runs of atext joined by single dots.
const dotAtom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"

// Check returns nil when id, written without angle brackets, is a
// Message-ID rtbot can put in a mail header as it is: an RFC 5322 msg-id
// (dot-atom-text "@" (dot-atom-text / no-fold-literal)) of at most MaxLen
// bytes. Otherwise the error quotes id and says what is wanted.
func Check(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("empty Message-ID")
	case len(id) > MaxLen:
		return fmt.Errorf("Message-ID %.40q... is %d bytes long, over the limit of %d", id, len(id), MaxLen)
	case !idRE.MatchString(id):
		return fmt.Errorf("Message-ID %q is not local@domain as RFC 5322 has it "+
			"(letters, digits and !#$%%&'*+/=?^_`{|}~- in dot-separated runs, or a [literal] after the @)", id)
	}
	return nil
}
