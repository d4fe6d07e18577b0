package release

import (
	"fmt"
	"strings"
	"time"
)

// DefaultGitURL is the stable-rt tree named in announcements.
const DefaultGitURL = "git://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git"

// kernelOrg is where the tarballs and patches are published.
const kernelOrg = "https://www.kernel.org/pub/linux/kernel/"

// Info is what an announcement says.
type Info struct {
	// Kernel is the kernel.org name of the kernel: "6.1.79" (X.Y for
	// sublevel 0).
	Kernel string
	// RT and RC are the release's localversion-rt: -rtRT or -rtRT-rcRC.
	RT, RC int
	// GitURL, GitBranch and Head locate the release in git (a release
	// names them; a release candidate is not pushed and does not).
	GitURL, GitBranch, Head string
	// Previous is the previous release ("5.4.143-rt63"): a release
	// candidate on the same kernel names the incremental patch from it.
	Previous string
	// ReleaseOn is the day a release candidate becomes the release.
	ReleaseOn time.Time
	// Changes are listed after the signature, as git shortlog does.
	Changes []Change
	// Signature is the name that signs the mail.
	Signature string
}

// Version is the release: "6.1.79-rt25", "5.4.143-rt64-rc2".
func (i Info) Version() string {
	return i.Kernel + Localversion{RT: i.RT, RC: i.RC}.String()
}

// Subject is the announcement's subject: "[ANNOUNCE] 6.1.79-rt25", and for a
// release candidate "[ANNOUNCE] 5.4.143-rt64-rc2" (rtbot announce reads both).
func (i Info) Subject() string { return "[ANNOUNCE] " + i.Version() }

// Announcement renders the announcement mail: a Subject header, a blank
// line and the body RT-stable maintainers send ("Hello RT-list!" for a
// release, the "RT stable review cycle" text for a release candidate), down
// to the signature, then the changes when there are any. The maintainer's
// mailer adds From, To and Cc.
func Announcement(i Info) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	v := i.Version()
	series, major := seriesOf(i.Kernel)
	vdir := kernelOrg + "v" + major + ".x/"
	rtdir := kernelOrg + "projects/rt/" + series + "/"
	patches := func() {
		w("  %slinux-%s.tar.xz\n\n", vdir, series)
		if i.Kernel != series {
			w("  %spatch-%s.xz\n\n", vdir, i.Kernel)
		}
		w("  %spatch-%s.patch.xz\n", rtdir, v)
	}

	w("Subject: %s\n\n", i.Subject())
	if i.RC == 0 {
		w("Hello RT-list!\n\n")
		w("I'm pleased to announce the %s stable release.\n\n", v)
		w("You can get this release via the git tree at:\n\n")
		w("  %s\n\n", i.GitURL)
		w("  branch: %s\n", i.GitBranch)
		w("  Head SHA1: %s\n\n", i.Head)
		w("Or to build %s directly, the following patches should be applied:\n\n", v)
		patches()
		w("\n\nEnjoy!\n%s\n", i.Signature)
	} else {
		w("Dear RT Folks,\n\n")
		w("This is the RT stable review cycle of patch %s.\n\n", v)
		w("Please scream at me if I messed something up. Please test the patches\ntoo.\n\n")
		w("The -rc release will be uploaded to kernel.org and will be deleted\n")
		w("when the final release is out. This is just a review release (or\nrelease candidate).\n\n")
		w("The pre-releases will not be pushed to the git repository, only the\nfinal release is.\n\n")
		if !i.ReleaseOn.IsZero() {
			w("If all goes well, this patch will be converted to the next main\nrelease on %s.\n\n", i.ReleaseOn.Format("2006-01-02"))
		}
		w("To build %s directly, the following patches should be applied:\n\n", v)
		patches()
		if prevKernel, prevRT, ok := strings.Cut(i.Previous, "-rt"); ok && prevKernel == i.Kernel {
			w("\nYou can also build from %s by applying the incremental patch:\n\n", i.Previous)
			w("  %sincr/patch-%s-rt%s-rt%d-rc%d.patch.xz\n", rtdir, i.Kernel, prevRT, i.RT, i.RC)
		}
		w("\n\nEnjoy,\n\n-- %s\n", i.Signature)
	}
	if len(i.Changes) > 0 {
		if i.Previous != "" {
			w("\n\nChanges since %s:\n", i.Previous)
		} else {
			w("\n\nChanges:\n")
		}
		names, by := sortedAuthors(i.Changes)
		for _, n := range names {
			w("\n%s (%d):\n", n, len(by[n]))
			for _, s := range by[n] {
				w("  %s\n", s)
			}
		}
	}
	return b.String()
}

// seriesOf splits "6.1.79" into the series "6.1" and the major "6".
func seriesOf(kernel string) (series, major string) {
	base, _, _ := strings.Cut(kernel, "-")
	parts := strings.SplitN(base, ".", 3)
	major = parts[0]
	series = major
	if len(parts) > 1 {
		series += "." + parts[1]
	}
	return series, major
}
