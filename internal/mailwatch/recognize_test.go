package mailwatch

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/msgid"
	"github.com/rtbot/rtbot/internal/testkit"
)

// sharedMails is the directory of real list mails the repository carries.
var sharedMails = testkit.MailsDir()

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

const (
	stableRCTree = "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"
	stableRTTree = "git://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git"
	rtDevelTree  = "https://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-rt-devel.git"
)

// recognizeFixtureCase is a fixture mail and the announcement Recognize
// must read from it.
type recognizeFixtureCase struct {
	file string
	want Announcement
}

// TestRecognizeFixtures reads every fixture mail, real and written, and
// checks that each one on disk has an expectation.
func TestRecognizeFixtures(t *testing.T) {
	seen := map[string]bool{}
	for _, tt := range recognizeFixtureCases() {
		seen[filepath.Clean(tt.file)] = true
		t.Run(filepath.Base(tt.file), func(t *testing.T) { checkRecognizeFixture(t, tt) })
	}
	checkEveryFixtureExpected(t, seen)
}

// recognizeFixtureCases are the fixture mails with their announcements:
// the real mails of internal/fixtures/mails, then the written ones of
// testdata, one variant each.
func recognizeFixtureCases() []recognizeFixtureCase {
	return slices.Concat(realStableRCCases(), realRTAndRejectedCases(),
		writtenBodyCases(), writtenRespinAndBodilessCases(), writtenRTAndRejectedCases())
}

// realStableRCCases are real stable review cycle announcements.
func realStableRCCases() []recognizeFixtureCase {
	return []recognizeFixtureCase{
		{sharedMails + "/stable-6.1.12-rc1.eml", Announcement{
			Kind: KindStableRC, Series: "6.1", Version: "6.1.12", RC: 1,
			GitURL: stableRCTree, GitBranch: "linux-6.1.y",
			PatchURL:  "http://kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.1.12-rc1.gz",
			Deadline:  utc("2023-02-15T14:47:00Z"),
			MessageID: "20230213144742.219399167@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 6.1 000/114] 6.1.12-rc1 review"}},
		{sharedMails + "/stable-6.12.12-rc2.eml", Announcement{
			Kind: KindStableRC, Series: "6.12", Version: "6.12.12", RC: 2,
			GitURL: stableRCTree, GitBranch: "linux-6.12.y",
			PatchURL:  "http://kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.12.12-rc2.gz",
			Deadline:  utc("2025-02-01T14:41:00Z"),
			MessageID: "20250130144136.126780286@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 6.12 00/41] 6.12.12-rc2 review"}},
		{sharedMails + "/stable-6.12.51-rc1.eml", Announcement{
			Kind: KindStableRC, Series: "6.12", Version: "6.12.51", RC: 1,
			GitURL: stableRCTree, GitBranch: "linux-6.12.y",
			PatchURL:  "http://kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.12.51-rc1.gz",
			Deadline:  utc("2025-10-05T16:03:00Z"),
			MessageID: "20251003160338.463688162@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 6.12 00/10] 6.12.51-rc1 review"}},
		{sharedMails + "/stable-4.4.247-rc1.eml", Announcement{
			Kind: KindStableRC, Series: "4.4", Version: "4.4.247", RC: 1,
			GitURL: stableRCTree, GitBranch: "linux-4.4.y",
			PatchURL:  "http://kernel.org/pub/linux/kernel/v4.x/stable-review/patch-4.4.247-rc1.gz",
			Deadline:  utc("2020-12-03T08:46:00Z"),
			MessageID: "20201201084637.754785180@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 4.4 00/24] 4.4.247-rc1 review"}},
		// The header's deadline (06:20) wins over the body's (06:18:31).
		{sharedMails + "/stable-4.4.202-stable-review.eml", Announcement{
			Kind: KindStableRC, Series: "4.4", Version: "4.4.202", RC: 1,
			GitURL: stableRCTree, GitBranch: "linux-4.4.y",
			PatchURL:  "http://kernel.org/pub/linux/kernel/v4.x/stable-review/patch-4.4.202-rc1.gz",
			Deadline:  utc("2019-11-17T06:20:00Z"),
			MessageID: "20191115062006.854443935@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 4.4 00/20] 4.4.202-stable review"}},
	}
}

// realRTAndRejectedCases are real RT announcements, and real list mails
// that announce nothing.
func realRTAndRejectedCases() []recognizeFixtureCase {
	return []recognizeFixtureCase{
		{sharedMails + "/rt-stable-6.1.79-rt25.eml", Announcement{
			Kind: KindRTStable, Series: "6.1", Version: "6.1.79-rt25",
			GitURL: stableRTTree, GitBranch: "v6.1-rt",
			PatchURL:  "https://www.kernel.org/pub/linux/kernel/projects/rt/6.1/patch-6.1.79-rt25.patch.xz",
			MessageID: "170908535103.421358.4623722558350250768@demetrius",
			From:      "williams@redhat.com", Subject: "[ANNOUNCE] 6.1.79-rt25"}},
		{sharedMails + "/rt-stable-5.15.195-rt90.eml", Announcement{
			Kind: KindRTStable, Series: "5.15", Version: "5.15.195-rt90",
			GitURL: stableRTTree, GitBranch: "v5.15-rt",
			PatchURL:  "https://www.kernel.org/pub/linux/kernel/projects/rt/5.15/patch-5.15.195-rt90.patch.xz",
			MessageID: "176097816496.610483.5965689650890990372@jupiter",
			From:      "joseph.salisbury@oracle.com", Subject: "[ANNOUNCE] 5.15.195-rt90"}},
		{sharedMails + "/rt-rc-v5.4.143-rt64-rc2.eml", Announcement{
			Kind: KindRTRC, Series: "5.4", Version: "5.4.143-rt64", RC: 2,
			PatchURL:  "https://www.kernel.org/pub/linux/kernel/projects/rt/5.4/patch-5.4.143-rt64-rc2.patch.xz",
			Deadline:  utc("2021-09-10T00:00:00Z"),
			MessageID: "cover.1631027711.git.zanussi@kernel.org",
			From:      "zanussi@kernel.org", Subject: "[PATCH RT 0/3] Linux v5.4.143-rt64-rc2"}},
		{sharedMails + "/rt-devel-v6.6-rt12.eml", Announcement{
			Kind: KindRTDevel, Series: "6.6", Version: "6.6-rt12",
			GitURL: rtDevelTree, GitBranch: "v6.6-rt12",
			PatchURL:  "https://cdn.kernel.org/pub/linux/kernel/projects/rt/6.6/older/patch-6.6-rt12.patch.xz",
			MessageID: "20231103150416.n8dAWMix@linutronix.de",
			From:      "bigeasy@linutronix.de", Subject: "[ANNOUNCE] v6.6-rt12"}},
		{sharedMails + "/not-cover-5.15-patch-068.eml", Announcement{
			Kind: KindNone, Reason: "patch 068/214 of a series, not the cover",
			MessageID: "20240910092601.527250762@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org",
			Subject:   "[PATCH 5.15 068/214] ALSA: hda/realtek: Support mute LED on HP Laptop 14-dq2xxx"}},
		{sharedMails + "/not-rc-6.12.51-release.eml", Announcement{
			Kind: KindNone, Reason: "subject is a release, not a review cycle",
			MessageID: "2025100618-chili-criteria-8b18@gregkh",
			From:      "gregkh@linuxfoundation.org", Subject: "Linux 6.12.51"}},
		{sharedMails + "/reply-5.10.236-rc2-signed.eml", Announcement{
			Kind: KindNone, Reason: `reply: subject starts with "Re:"`,
			MessageID: "9dd0c0b1-6b0e-4c01-b706-c21dd185a836@sirena.org.uk",
			From:      "broonie@kernel.org", Subject: "Re: [PATCH 5.10 000/228] 5.10.236-rc2 review"}},
		{sharedMails + "/reply-6.6.21-rc1.eml", Announcement{
			Kind: KindNone, Reason: `reply: subject starts with "Re:"`,
			MessageID: "faea3863-e610-45ef-a2c7-9585574c205e@rnnvmail203.nvidia.com",
			From:      "jonathanh@nvidia.com", Subject: "Re: [PATCH 6.6 000/143] 6.6.21-rc1 review"}},
	}
}

// writtenBodyCases are written stable review cycle announcements whose
// body is worded or encoded as some real ones are.
func writtenBodyCases() []recognizeFixtureCase {
	return []recognizeFixtureCase{
		{"testdata/stable-6.1.91-rc1-sasha.eml", Announcement{ // Sasha's body; Patch and Deadline from the body
			Kind: KindStableRC, Series: "6.1", Version: "6.1.91", RC: 1,
			GitURL: stableRCTree, GitBranch: "linux-6.1.y",
			PatchURL:  "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git/patch/?id=linux-6.1.y&id2=v6.1.90",
			Deadline:  utc("2024-05-16T12:00:00Z"),
			MessageID: "20240514100951.686412426@kernel.org",
			From:      "sashal@kernel.org", Subject: "[PATCH 6.1 00/23] 6.1.91-rc1 review"}},
		{"testdata/stable-5.15.160-rc1-qp.eml", Announcement{ // quoted-printable, body only
			Kind: KindStableRC, Series: "5.15", Version: "5.15.160", RC: 1,
			GitURL: stableRCTree, GitBranch: "linux-5.15.y",
			PatchURL:  "https://www.kernel.org/pub/linux/kernel/v5.x/stable-review/patch-5.15.160-rc1.gz",
			Deadline:  utc("2024-05-30T10:00:00Z"),
			MessageID: "20240528100000.111111111@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 5.15 000/168] 5.15.160-rc1 review"}},
		{"testdata/stable-6.6.33-rc1-base64.eml", Announcement{ // base64, date(1) deadline
			Kind: KindStableRC, Series: "6.6", Version: "6.6.33", RC: 1,
			GitURL: stableRCTree, GitBranch: "linux-6.6.y",
			PatchURL:  "https://www.kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.6.33-rc1.gz",
			Deadline:  utc("2024-06-06T14:34:11Z"),
			MessageID: "20240604143411.222222222@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 6.6 000/744] 6.6.33-rc1 review"}},
		{"testdata/stable-6.6.30-rc1-rfc2047.eml", Announcement{ // encoded-word subject, bare Message-ID
			Kind: KindStableRC, Series: "6.6", Version: "6.6.30", RC: 1,
			GitURL: stableRCTree, GitBranch: "linux-6.6.y",
			PatchURL:  "http://kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.6.30-rc1.gz",
			Deadline:  utc("2024-05-09T09:25:00Z"),
			MessageID: "20240507092554.333333333@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 6.6 000/336] 6.6.30-rc1 review"}},
		{"testdata/stable-5.10.218-rc1-latin1.eml", Announcement{ // ISO-8859-1 body and subject
			Kind: KindStableRC, Series: "5.10", Version: "5.10.218", RC: 1,
			GitURL: stableRCTree, GitBranch: "linux-5.10.y",
			PatchURL:  "https://www.kernel.org/pub/linux/kernel/v5.x/stable-review/patch-5.10.218-rc1.gz",
			Deadline:  utc("2024-06-01T10:00:00Z"),
			MessageID: "20240530100000.444444444@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 5.10 000/317] 5.10.218-rc1 review"}},
	}
}

// writtenRespinAndBodilessCases are written respins of a review cycle,
// and a cover without a body.
func writtenRespinAndBodilessCases() []recognizeFixtureCase {
	return []recognizeFixtureCase{
		{"testdata/stable-6.1.92-rc3-respin.eml", Announcement{ // respin in a new thread, "00/20"
			Kind: KindStableRC, Series: "6.1", Version: "6.1.92", RC: 3,
			GitURL: stableRCTree, GitBranch: "linux-6.1.y",
			PatchURL:  "https://www.kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.1.92-rc3.gz",
			Deadline:  utc("2024-06-02T08:00:00Z"),
			MessageID: "20240531080000.555555555@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 6.1 00/20] 6.1.92-rc3 review"}},
		{"testdata/stable-6.6.32-rc2-threaded-respin.eml", Announcement{ // respin threaded under rc1
			Kind: KindStableRC, Series: "6.6", Version: "6.6.32", RC: 2,
			GitURL: stableRCTree, GitBranch: "linux-6.6.y",
			PatchURL:  "http://kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.6.32-rc2.gz",
			Deadline:  utc("2024-05-25T07:34:00Z"),
			MessageID: "20240523073402.666666666@kernel.org",
			From:      "sashal@kernel.org", Subject: "[PATCH 6.6 000/389] 6.6.32-rc2 review"}},
		{"testdata/stable-6.1.13-rc1-header-only.eml", Announcement{ // no body at all
			Kind: KindStableRC, Series: "6.1", Version: "6.1.13", RC: 1,
			GitURL: stableRCTree, GitBranch: "linux-6.1.y",
			PatchURL:  "http://kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.1.13-rc1.gz",
			Deadline:  utc("2023-02-22T14:47:00Z"),
			MessageID: "20230220144742.000000013@linuxfoundation.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 6.1 000/12] 6.1.13-rc1 review"}},
	}
}

// writtenRTAndRejectedCases are written RT announcements, and written
// mails that look like announcements but must not count as one.
func writtenRTAndRejectedCases() []recognizeFixtureCase {
	return []recognizeFixtureCase{
		{"testdata/rt-stable-eol-4.19.312-rt134.eml", Announcement{
			Kind: KindRTStable, Series: "4.19", Version: "4.19.312-rt134",
			GitURL: stableRTTree, GitBranch: "v4.19-rt",
			PatchURL:  "https://www.kernel.org/pub/linux/kernel/projects/rt/4.19/patch-4.19.312-rt134.patch.xz",
			MessageID: "171438480012.123456.789012345678901234@beryllium",
			From:      "wagi@monom.org", Subject: "[ANNOUNCE] EOL 4.19.312-rt134"}},
		{"testdata/rt-devel-v6.8.2-rt11.eml", Announcement{
			Kind: KindRTDevel, Series: "6.8", Version: "6.8.2-rt11",
			GitURL: rtDevelTree, GitBranch: "v6.8.2-rt11",
			PatchURL:  "https://cdn.kernel.org/pub/linux/kernel/projects/rt/6.8/older/patch-6.8.2-rt11.patch.xz",
			MessageID: "20240328110000.AbCdEfGh@linutronix.de",
			From:      "bigeasy@linutronix.de", Subject: "[ANNOUNCE] v6.8.2-rt11"}},
		{"testdata/reply-6.1.91-rc1-exact-subject.eml", Announcement{
			Kind: KindNone, Reason: "reply: has In-Reply-To",
			MessageID: "4c1f8b2e-0d3a-4bb4-9f2b-1c0a5e6d7f80@w6rz.net",
			From:      "re@w6rz.net", Subject: "[PATCH 6.1 00/23] 6.1.91-rc1 review"}},
		{"testdata/fwd-6.1.12-rc1.eml", Announcement{
			Kind: KindNone, Reason: `forwarded copy: subject starts with "Fwd:"`,
			MessageID: "fwd-1@example.org",
			From:      "user@example.org", Subject: "Fwd: [PATCH 6.1 000/114] 6.1.12-rc1 review"}},
		{"testdata/bad-branch-semicolon.eml", Announcement{
			Kind: KindNone, Reason: `invalid git branch "linux-6.1.y;rm -rf /"`,
			MessageID: "bad-branch-1@example.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 6.1 000/114] 6.1.12-rc1 review"}},
		{"testdata/bad-branch-dotdot.eml", Announcement{
			Kind: KindNone, Reason: `invalid git branch "../../etc"`,
			MessageID: "bad-branch-2@example.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 6.1 000/114] 6.1.12-rc1 review"}},
		{"testdata/bad-url-file.eml", Announcement{
			Kind: KindNone, Reason: `invalid git URL: "file:///etc/passwd": scheme not git, https or http`,
			MessageID: "bad-url-1@example.org",
			From:      "gregkh@linuxfoundation.org", Subject: "[PATCH 6.1 000/114] 6.1.12-rc1 review"}},
	}
}

// checkRecognizeFixture recognizes tt's mail and compares the result with
// tt.want, the deadline (which must be in UTC) apart.
func checkRecognizeFixture(t *testing.T, tt recognizeFixtureCase) {
	f, err := os.Open(tt.file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Recognize(f)
	if err != nil {
		t.Fatalf("Recognize(%s): %v", tt.file, err)
	}
	if !got.Deadline.Equal(tt.want.Deadline) || got.Deadline.Location() != time.UTC {
		t.Errorf("Deadline = %v, want %v in UTC", got.Deadline, tt.want.Deadline)
	}
	got.Deadline, tt.want.Deadline = time.Time{}, time.Time{}
	if got != tt.want {
		t.Errorf("Recognize(%s)\n got %+v\nwant %+v", tt.file, got, tt.want)
	}
}

// checkEveryFixtureExpected fails the test for a fixture mail on disk that
// is not among the seen ones.
func checkEveryFixtureExpected(t *testing.T, seen map[string]bool) {
	for _, dir := range []string{sharedMails, "testdata"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no fixtures in %s (%v); internal/fixtures/mails holds the real ones", dir, err)
		}
		for _, f := range files {
			if !seen[filepath.Clean(f)] {
				t.Errorf("fixture %s has no expectation", f)
			}
		}
	}
}

// mailText builds a mail from header lines and a body.
func mailText(body string, headers ...string) string {
	return strings.Join(headers, "\n") + "\n\n" + body
}

const coverBody = "This is the start of the stable review cycle for the 6.1.12 release.\n\n" +
	"Responses should be made by Wed, 15 Feb 2023 14:46:51 +0000.\n\n" +
	"The whole patch series can be found in one patch at:\n" +
	"\thttps://www.kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.1.12-rc1.gz\n" +
	"or in the git tree and branch at:\n" +
	"\tgit://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git linux-6.1.y\n"

func TestRecognizeVariants(t *testing.T) {
	const msgID = "Message-ID: <x@example.org>"
	tests := []struct {
		name    string
		mail    string
		kind    Kind
		version string
		rc      int
		reason  string // for KindNone: a substring of Reason
	}{
		{"cover 000/114", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", msgID), KindStableRC, "6.1.12", 1, ""},
		{"cover 0/9", mailText(coverBody, "Subject: [PATCH 6.1 0/9] 6.1.12-rc1 review"), KindStableRC, "6.1.12", 1, ""},
		{"cover 0000/1024", mailText(coverBody, "Subject: [PATCH 6.1 0000/1024] 6.1.12-rc1 review"), KindStableRC, "6.1.12", 1, ""},
		{"folded subject", mailText(coverBody, "Subject: [PATCH 6.1 000/114]\n 6.1.12-rc1 review"), KindStableRC, "6.1.12", 1, ""},
		{"patch 001", mailText("x", "Subject: [PATCH 6.1 001/114] foo: bar"), KindNone, "", 0, "patch 001/114 of a series"},
		{"RE: upper", mailText(coverBody, "Subject: RE: [PATCH 6.1 000/114] 6.1.12-rc1 review"), KindNone, "", 0, "reply: subject"},
		{"Re[2]:", mailText(coverBody, "Subject: Re[2]: [PATCH 6.1 000/114] 6.1.12-rc1 review"), KindNone, "", 0, "reply: subject"},
		{"[FWD]", mailText(coverBody, "Subject: [FWD] [PATCH 6.1 000/114] 6.1.12-rc1 review"), KindNone, "", 0, "forwarded copy"},
		{"Fw:", mailText(coverBody, "Subject: Fw: [PATCH 6.1 000/114] 6.1.12-rc1 review"), KindNone, "", 0, "forwarded copy"},
		{"References only", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "References: <a@b>"), KindNone, "", 0, "reply: has References"},
		{"threaded rc1 with headers", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "In-Reply-To: <a@b>", "X-KernelTest-Version: 6.1.12-rc1"), KindNone, "", 0, "reply: has In-Reply-To"},
		{"threaded rc2 without headers", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc2 review", "In-Reply-To: <a@b>"), KindNone, "", 0, "reply: has In-Reply-To"},
		{"header version disagrees", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "X-KernelTest-Version: 6.1.13-rc1"), KindNone, "", 0, "disagrees with subject"},
		{"header version invalid", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "X-KernelTest-Version: 6.1.12"), KindNone, "", 0, "invalid version in X-KernelTest-Version"},
		{"header deadline invalid", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "X-KernelTest-Deadline: soon"), KindNone, "", 0, "invalid deadline"},
		{"series mismatch", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.2.1-rc1 review"), KindNone, "", 0, "not in series"},
		{"ext:: URL in header", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "X-KernelTest-Tree: ext::sh -c touch% /tmp/x"), KindNone, "", 0, "invalid git URL"},
		{"URL with user", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "X-KernelTest-Patch: https://-oProxyCommand=x@evil/"), KindNone, "", 0, "invalid patch URL"},
		{"branch option", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "X-KernelTest-Branch: --upload-pack=touch"), KindNone, "", 0, "invalid git branch"},
		{"not a review", mailText("x", "Subject: [PATCH 6.1 000/114] something else"), KindNone, "", 0, "not a stable review cycle"},
		{"no subject", mailText("x", "From: a@b"), KindNone, "", 0, "no subject"},
		{"plain mail", mailText("x", "Subject: lunch?"), KindNone, "", 0, "not an announcement"},
		{"RT patch 1/3", mailText("x", "Subject: [PATCH RT 1/3] locking: fix"), KindNone, "", 0, "RT patch 1/3"},
		{"RT cover", mailText("x", "Subject: [PATCH RT 00/12] Linux v6.1.80-rt26-rc1"), KindRTRC, "6.1.80-rt26", 1, ""},
		{"ANNOUNCE rt-rc", mailText("x", "Subject: [ANNOUNCE] 6.1.80-rt26-rc1"), KindRTRC, "6.1.80-rt26", 1, ""},
		{"ANNOUNCE (EOL)", mailText("x", "Subject: [ANNOUNCE] 4.14.336-rt159 (EOL)"), KindRTStable, "4.14.336-rt159", 0, ""},
		{"rt-devel mainline rc", mailText("x", "Subject: [ANNOUNCE] v6.7-rc5-rt4"), KindRTDevel, "6.7-rc5-rt4", 0, ""},
		{"rt-devel without v, by tree", mailText("git tree at:\n\n  https://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-rt-devel.git v6.1.5-rt3\n",
			"Subject: [ANNOUNCE] 6.1.5-rt3"), KindRTDevel, "6.1.5-rt3", 0, ""},
		{"rt-devel two-part without v", mailText("x", "Subject: [ANNOUNCE] 5.19-rt10"), KindRTDevel, "5.19-rt10", 0, ""},
		{"rt-stable with v, by tree", mailText("  git://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git\n\n  branch: v6.1-rt\n",
			"Subject: [ANNOUNCE] v6.1.80-rt26"), KindRTStable, "6.1.80-rt26", 0, ""},
		{"devel version on stable tree", mailText("  git://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git\n",
			"Subject: [ANNOUNCE] v6.6-rt12"), KindNone, "", 0, "announced with the stable-rt tree"},
		{"ANNOUNCE other", mailText("x", "Subject: [ANNOUNCE] rt-tests v2.6"), KindNone, "", 0, "not an RT release"},
		{"threaded ANNOUNCE", mailText("x", "Subject: [ANNOUNCE] 6.1.79-rt25", "In-Reply-To: <a@b>"), KindNone, "", 0, "reply: has In-Reply-To"},
		{"unknown charset", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "Content-Type: text/plain; charset=x-klingon"), KindStableRC, "6.1.12", 1, ""},
		{"broken base64", mailText("!!!!not base64!!!!\n", "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "Content-Transfer-Encoding: base64"), KindStableRC, "6.1.12", 1, ""},
		{"Message-ID no reply can name", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", `Message-ID: <a"b(c)@x>`), KindNone, "", 0, `Message-ID "a\"b(c)@x"`},
		{"Message-ID with a space", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", `Message-ID: <a b@x>`), KindNone, "", 0, "Message-ID"},
		{"Message-ID domain literal", mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", `Message-ID: <a.b+c@[127.0.0.1]>`), KindStableRC, "6.1.12", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Recognize(strings.NewReader(tt.mail))
			if err != nil {
				t.Fatalf("Recognize: %v", err)
			}
			if got.Kind != tt.kind || got.Version != tt.version || got.RC != tt.rc {
				t.Errorf("got kind %q version %q rc %d (reason %q), want %q %q %d", got.Kind, got.Version, got.RC, got.Reason, tt.kind, tt.version, tt.rc)
			}
			if tt.kind == KindNone && !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", got.Reason, tt.reason)
			}
			if tt.kind != KindNone && got.Reason != "" {
				t.Errorf("Reason = %q on an announcement", got.Reason)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("result does not validate: %v", err)
			}
		})
	}
}

func TestRecognizeMultipartBody(t *testing.T) {
	// The text/plain part, base64 inside multipart/alternative, gives tree and branch.
	mail := mailText("--b\nContent-Type: text/html\n\n<p>hi</p>\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"+
		"b3IgaW4gdGhlIGdpdCB0cmVlIGFuZCBicmFuY2ggYXQ6CglnaXQ6Ly9leGFtcGxlLm9yZy9yYy5naXQgbGludXgtNi4xLnkK\n--b--\n",
		"Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "MIME-Version: 1.0", `Content-Type: multipart/alternative; boundary="b"`)
	got, err := Recognize(strings.NewReader(mail))
	if err != nil {
		t.Fatal(err)
	}
	if got.GitURL != "git://example.org/rc.git" || got.GitBranch != "linux-6.1.y" {
		t.Errorf("tree %q branch %q, want git://example.org/rc.git linux-6.1.y", got.GitURL, got.GitBranch)
	}
}

func TestReadTextCharsets(t *testing.T) {
	for file, want := range map[string]string{
		"testdata/stable-5.10.218-rc1-latin1.eml": "Jürgen Groß <jgross@suse.com>",
		"testdata/stable-5.15.160-rc1-qp.eml":     "Ville Syrjälä <ville.syrjala@linux.intel.com>",
		sharedMails + "/stable-6.1.12-rc1.eml":    "Ville Syrjälä <ville.syrjala@linux.intel.com>",
		"testdata/stable-6.6.33-rc1-base64.eml":   "in the git tree and branch at:\n\tgit://",
	} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(bytes.NewReader(raw))
		th, err := textproto.ReadHeader(br)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		h := mail.Header{Header: message.Header{Header: th}}
		text := readText(h, br, Limits{}.withDefaults())
		if !strings.Contains(text, want) {
			t.Errorf("%s: decoded text lacks %q", file, want)
		}
	}
}

// endlessReader yields a never-ending line of 'x'.
type endlessReader struct{}

func (endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
		if i%100 == 99 {
			p[i] = '\n'
		}
	}
	return len(p), nil
}

func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// limitsCover is the header of a stable review cycle cover, for the
// tests of Recognize's limits.
const limitsCover = "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review\nX-KernelTest-Version: 6.1.12-rc1\n"

// TestRecognizeLimits checks that Recognize bounds the memory and the work
// a huge or hostile mail costs.
func TestRecognizeLimits(t *testing.T) {
	t.Run("200 MB mail", checkHugeMailBounded)
	t.Run("over MaxBytes, reply", checkOverMaxBytes)
	t.Run("exactly MaxBytes", checkExactlyMaxBytes)
	t.Run("huge header", checkHugeHeader)
	t.Run("base64 bomb", checkBase64Bomb)
	t.Run("nested multipart", func(t *testing.T) { checkTextPartUnread(t, nestedMultipartMail(), "MaxDepth") })
	t.Run("many parts", func(t *testing.T) { checkTextPartUnread(t, manyPartsMail(), "MaxParts") })
}

// checkHugeMailBounded checks that a 200 MB mail ends in ErrTooLarge,
// read with little memory.
func checkHugeMailBounded(t *testing.T) {
	var err error
	alloc := allocated(func() {
		r := io.LimitReader(io.MultiReader(strings.NewReader(limitsCover+"\n"), endlessReader{}), 200<<20)
		_, err = Recognize(r)
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if alloc > 32<<20 {
		t.Errorf("allocated %d MiB reading a 200 MB mail", alloc>>20)
	}
}

// checkOverMaxBytes checks that a mail over MaxBytes, even a reply, is
// refused with ErrTooLarge.
func checkOverMaxBytes(t *testing.T) {
	mail := "Subject: Re: hello\n\n" + strings.Repeat("x", 2000)
	_, err := RecognizeWithLimits(strings.NewReader(mail), Limits{MaxBytes: 1000})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "mail") {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// checkExactlyMaxBytes checks that a mail of exactly MaxBytes is read.
func checkExactlyMaxBytes(t *testing.T) {
	mail := limitsCover + "\n" + coverBody
	a, err := RecognizeWithLimits(strings.NewReader(mail), Limits{MaxBytes: int64(len(mail))})
	if err != nil || a.Kind != KindStableRC {
		t.Fatalf("got %v, %v; want a stable-rc and no error", a.Kind, err)
	}
}

// checkHugeHeader checks that a header over its limit is refused with
// ErrTooLarge and KindNone.
func checkHugeHeader(t *testing.T) {
	mail := limitsCover + "X-Junk: " + strings.Repeat("y", 300<<10) + "\n\nbody\n"
	a, err := Recognize(strings.NewReader(mail))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "header") {
		t.Fatalf("err = %v, want ErrTooLarge for the header", err)
	}
	if a.Kind != KindNone {
		t.Errorf("Kind = %q with an error", a.Kind)
	}
}

// checkBase64Bomb checks that a cover with a base64 bomb for a body is
// still recognized, with little memory.
func checkBase64Bomb(t *testing.T) {
	// 6 MB of base64 zeros: decoding is bounded by MaxTextBytes.
	mail := limitsCover + "Content-Transfer-Encoding: base64\n\n" + strings.Repeat(strings.Repeat("A", 76)+"\n", 80000)
	var a Announcement
	var err error
	alloc := allocated(func() { a, err = Recognize(strings.NewReader(mail)) })
	if err != nil || a.Kind != KindStableRC {
		t.Fatalf("got %v, %v; want a stable-rc", a.Kind, err)
	}
	if alloc > 16<<20 {
		t.Errorf("allocated %d MiB decoding a base64 bomb", alloc>>20)
	}
}

// nestedMultipartMail is a cover whose text part lies 2000 multiparts
// deep.
func nestedMultipartMail() string {
	var b strings.Builder
	b.WriteString(limitsCover + "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b0\"\n\n")
	const depth = 2000
	for i := 0; i < depth; i++ {
		b.WriteString("--b" + strconv.Itoa(i) + "\nContent-Type: multipart/mixed; boundary=\"b" + strconv.Itoa(i+1) + "\"\n\n")
	}
	b.WriteString("--b" + strconv.Itoa(depth) + "\nContent-Type: text/plain\n\n" + coverBody)
	return b.String()
}

// manyPartsMail is a cover whose text part follows 5000 other parts.
func manyPartsMail() string {
	var b strings.Builder
	b.WriteString(limitsCover + "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n")
	for i := 0; i < 5000; i++ {
		b.WriteString("--b\nContent-Type: application/octet-stream\n\nzz\n")
	}
	b.WriteString("--b\nContent-Type: text/plain\n\n" + coverBody + "--b--\n")
	return b.String()
}

// checkTextPartUnread checks that mail, a cover whose text part lies
// beyond the limit named, is recognized without reading that part.
func checkTextPartUnread(t *testing.T, mail, limit string) {
	a, err := Recognize(strings.NewReader(mail))
	if err != nil || a.Kind != KindStableRC {
		t.Fatalf("got %v, %v; want a stable-rc", a.Kind, err)
	}
	if a.GitURL != "" {
		t.Errorf("GitURL %q read from beyond %s", a.GitURL, limit)
	}
}

func TestRecognizeUnreadable(t *testing.T) {
	for name, mail := range map[string]string{
		"empty":          "",
		"leading space":  " Subject: x\n\nbody",
		"no colon":       "Subject [PATCH 6.1 000/114] 6.1.12-rc1 review\n\nbody",
		"bad header key": "Sub ject: x\n\nbody",
	} {
		t.Run(name, func(t *testing.T) {
			a, err := Recognize(strings.NewReader(mail))
			if err == nil {
				t.Fatalf("no error; got %+v", a)
			}
			if a.Kind != KindNone {
				t.Errorf("Kind = %q with an error", a.Kind)
			}
		})
	}
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("disk on fire")
		r := io.MultiReader(strings.NewReader("Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review\n\nbody\n"), errReader{boom})
		if _, err := Recognize(r); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want %v", err, boom)
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestParseDeadline(t *testing.T) {
	for in, want := range map[string]string{
		"2023-02-15T14:47+00:00":              "2023-02-15T14:47:00Z",
		"2023-02-15T16:47+02:00":              "2023-02-15T14:47:00Z",
		"2023-02-15T14:47:05Z":                "2023-02-15T14:47:05Z",
		"Wed, 15 Feb 2023 14:46:51 +0000.":    "2023-02-15T14:46:51Z",
		"Sun, 17 Nov 2019 06:18:31 +0100":     "2019-11-17T05:18:31Z",
		"Sat, 1 Jun 2024 10:00:00 GMT":        "2024-06-01T10:00:00Z",
		"Thu Nov 28 07:03:24 UTC 2019.":       "2019-11-28T07:03:24Z",
		"Thu Jun  6 14:34:11 UTC 2024":        "2024-06-06T14:34:11Z",
		"Thu Jun 13 03:36:21 PM UTC 2024":     "2024-06-13T15:36:21Z",
		"Thu, 13 Jun 2024 03:36:21 PM UTC":    "",
		"Thu Nov 28 07:03:24 PST 2019":        "", // Go would read PST as UTC
		"tomorrow":                            "",
		"Thu, 15 Feb 9999 14:46:51 +0000":     "",
		strings.Repeat("2023-02-15T14:47", 9): "",
	} {
		got, ok := parseDeadline(in)
		if want == "" {
			if ok {
				t.Errorf("parseDeadline(%q) = %v, want failure", in, got)
			}
			continue
		}
		if !ok || !got.Equal(utc(want)) || got.Location() != time.UTC {
			t.Errorf("parseDeadline(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Announcement{Kind: KindStableRC, Series: "6.1", Version: "6.1.12", RC: 1,
		GitURL: stableRCTree, GitBranch: "linux-6.1.y", PatchURL: "https://example.org/p?a=1&b=2"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good announcement: %v", err)
	}
	tests := []struct {
		name  string
		edit  func(*Announcement)
		field string
	}{
		{"kind", func(a *Announcement) { a.Kind = "stable" }, "kind"},
		{"none without reason", func(a *Announcement) { a.Kind = KindNone }, "reason"},
		{"series", func(a *Announcement) { a.Series = "6" }, "series"},
		{"version", func(a *Announcement) { a.Version = "6.1.12;ls" }, "version"},
		{"rt version on stable-rc", func(a *Announcement) { a.Version = "6.1.12-rt1" }, "version"},
		{"stable version on rt", func(a *Announcement) { a.Kind = KindRTStable; a.RC = 0 }, "version"},
		{"other series", func(a *Announcement) { a.Version = "6.10.1" }, "series"},
		{"rc 0", func(a *Announcement) { a.RC = 0 }, "rc"},
		{"rc on release", func(a *Announcement) { a.Kind, a.Version = KindRTStable, "6.1.12-rt5" }, "rc"},
		{"branch ..", func(a *Announcement) { a.GitBranch = "linux..6" }, "branch"},
		{"branch -", func(a *Announcement) { a.GitBranch = "-x" }, "branch"},
		{"branch space", func(a *Announcement) { a.GitBranch = "a b" }, "branch"},
		{"branch .lock", func(a *Announcement) { a.GitBranch = "a.lock" }, "branch"},
		{"url scheme", func(a *Announcement) { a.GitURL = "ssh://host/x.git" }, "git URL"},
		{"url no host", func(a *Announcement) { a.GitURL = "https:///x.git" }, "git URL"},
		{"url control", func(a *Announcement) { a.PatchURL = "https://h/\x1b[2J" }, "patch URL"},
		{"url space", func(a *Announcement) { a.PatchURL = "https://h/a b" }, "patch URL"},
		{"url opaque", func(a *Announcement) { a.PatchURL = "https:h" }, "patch URL"},
	}
	long := good
	long.GitBranch = strings.Repeat("ü;", 5000)
	if err := long.Validate(); err == nil || len(err.Error()) > 200 || !utf8.ValidString(err.Error()) {
		t.Errorf("Validate of a 15 kB branch: %v; want a short, valid UTF-8 error", err)
	}
	for _, tt := range tests {
		a := good
		tt.edit(&a)
		err := a.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: Validate() = %v, want an error naming %q", tt.name, err, tt.field)
		}
	}
}

// Patterns the fuzz test holds every announcement to, written independently
// of the ones Validate uses.
var (
	fuzzSeries   = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	fuzzVersion  = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?((-rc[0-9]+)?-rt[0-9]+)?$`)
	fuzzBranch   = regexp.MustCompile(`^[A-Za-z0-9._/-]*$`)
	fuzzURL      = regexp.MustCompile(`^((git|https?)://[^\s/?#@-][^\s]*)?$`)
	fuzzNoSpaces = regexp.MustCompile(`^[^\x00-\x1f\x7f]*$`)
)

func FuzzRecognize(f *testing.F) {
	for _, dir := range []string{sharedMails, "testdata"} {
		files := testkit.Glob(f, filepath.Join(dir, "*.eml"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(mailText(coverBody, "Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review")))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := RecognizeWithLimits(bytes.NewReader(raw), Limits{MaxBytes: 1 << 20})
		if err != nil {
			if a.Kind != KindNone {
				t.Fatalf("error %v with kind %q", err, a.Kind)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("Validate: %v for %+v", err, a)
		}
		if a.MessageID != "" && msgid.Check(a.MessageID) != nil || !fuzzNoSpaces.MatchString(a.Subject) || strings.ToLower(a.From) != a.From {
			t.Fatalf("bad MessageID %q, Subject %q or From %q", a.MessageID, a.Subject, a.From)
		}
		if a.Kind != KindNone && a.MessageID != "" {
			// The mailer can answer every announcement with a Message-ID.
			reply := mailout.Message{From: "rtbot@example.org", To: []string{"rt@example.org"}, Subject: "report",
				MessageID: "r@example.org", InReplyTo: a.MessageID, References: []string{a.MessageID}}
			if _, err := reply.Bytes(); err != nil {
				t.Fatalf("announcement <%s> cannot be answered: %v", a.MessageID, err)
			}
		}
		if a.Kind == KindNone {
			if a.Reason == "" {
				t.Fatal("KindNone without a Reason")
			}
			if a.Series != "" || a.Version != "" || a.GitURL != "" || a.GitBranch != "" || a.PatchURL != "" {
				t.Fatalf("half-filled KindNone: %+v", a)
			}
			return
		}
		if a.Reason != "" || !fuzzSeries.MatchString(a.Series) || !fuzzVersion.MatchString(a.Version) ||
			!fuzzBranch.MatchString(a.GitBranch) || strings.Contains(a.GitBranch, "..") || strings.HasPrefix(a.GitBranch, "-") ||
			!fuzzURL.MatchString(a.GitURL) || !fuzzURL.MatchString(a.PatchURL) {
			t.Fatalf("announcement fails the patterns: %+v", a)
		}
		if !a.Deadline.IsZero() && a.Deadline.Location() != time.UTC {
			t.Fatalf("deadline %v not in UTC", a.Deadline)
		}
	})
}

// TestRecognizeInThread: a stable-rc cover sent as a reply is an
// announcement when its parent is an earlier cover of the same series that
// rtbot recorded (the 3.16 and 4.4 maintainers threaded respins that way,
// without X-KernelTest headers); a reply to a cover with the cover's own
// subject, a reply under an unknown mail or a cover of another series is
// not.
func TestRecognizeInThread(t *testing.T) {
	recorded := map[string]Announcement{
		"rc1@kernel.org":   {Kind: KindStableRC, Series: "6.1", Version: "6.1.12", RC: 1},
		"rc2@kernel.org":   {Kind: KindStableRC, Series: "6.1", Version: "6.1.12", RC: 2},
		"prev@kernel.org":  {Kind: KindStableRC, Series: "6.1", Version: "6.1.11", RC: 1},
		"other@kernel.org": {Kind: KindStableRC, Series: "6.6", Version: "6.6.1", RC: 1},
		"rt@kernel.org":    {Kind: KindRTStable, Series: "6.1", Version: "6.1.11-rt5"},
	}
	earlier := func(id string) (Announcement, bool) { a, ok := recorded[id]; return a, ok }
	const rc2 = "Subject: [PATCH 6.1 000/114] 6.1.12-rc2 review"
	for _, tc := range []struct {
		name    string
		headers []string
		want    Kind
	}{
		{"rc2 under rc1", []string{rc2, "In-Reply-To: <rc1@kernel.org>", "References: <rc1@kernel.org>"}, KindStableRC},
		{"rc2 under rc1, References only", []string{rc2, "References: <x@y> <rc1@kernel.org>"}, KindStableRC},
		{"rc1 under the last release's", []string{"Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "In-Reply-To: <prev@kernel.org>"}, KindStableRC},
		{"reply to rc2 with its subject", []string{rc2, "In-Reply-To: <rc2@kernel.org>", "References: <rc1@kernel.org> <rc2@kernel.org>"}, KindNone},
		{"rc1 under rc2", []string{"Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review", "In-Reply-To: <rc2@kernel.org>"}, KindNone},
		{"under an unknown mail", []string{rc2, "In-Reply-To: <nobody@kernel.org>"}, KindNone},
		{"under another series", []string{rc2, "In-Reply-To: <other@kernel.org>"}, KindNone},
		{"under an RT release", []string{rc2, "In-Reply-To: <rt@kernel.org>"}, KindNone},
		{"a patch under rc1", []string{"Subject: [PATCH 6.1 001/114] foo: bar", "In-Reply-To: <rc1@kernel.org>"}, KindNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := mailText(strings.ReplaceAll(coverBody, "-rc1.gz", "-rc2.gz"), append(tc.headers, "Message-ID: <new@kernel.org>")...)
			a, err := RecognizeInThread(strings.NewReader(raw), Limits{}, earlier)
			if err != nil || a.Kind != tc.want {
				t.Errorf("kind %s (%s), %v; want %s", a.Kind, a.Reason, err, tc.want)
			}
			if a, _ := RecognizeWithLimits(strings.NewReader(raw), Limits{}); a.Kind != KindNone {
				t.Errorf("without knowing the earlier mail: %s, want none", a.Kind)
			}
		})
	}
}
