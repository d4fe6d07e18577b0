// Package state is rtbot's memory: an embedded SQLite file (the pure-Go
// modernc.org/sqlite driver, no cgo) that records the announcements seen, how
// far each IMAP mailbox has been scanned, every run of the merge pipeline with
// its per-patch results, a ledger of the side effects rtbot performs
// (pushes, mails, test triggers), and the problems the preflight of the
// last passes found (RecordPreflight), so that each is mailed once.
//
// # Durability
//
// [Open] sets, on every pooled connection: journal_mode=WAL (readers such as
// `rtbot status` never block the bot), busy_timeout (a second writer waits
// instead of failing with SQLITE_BUSY), foreign_keys=ON (a run cannot name an
// unknown announcement, a patch result or action cannot outlive its run) and
// synchronous=FULL. FULL makes SQLite fsync the WAL at every commit: a commit
// that returned is on disk even if the machine loses power right after. With
// NORMAL, the default for WAL, the last commits can roll back on power loss,
// and the last commit is typically "this mail was sent". rtbot commits a few
// rows per announcement, so the fsync cost is irrelevant next to a repeated or
// lost report mail. Write transactions begin IMMEDIATE, so two processes never
// deadlock upgrading a read lock to a write lock: the second one waits for
// busy_timeout.
//
// # Creating the file
//
// SQLite takes a missing or empty file for a new database. For rtbot that
// would be a fresh start: every announcement still in the mailbox redone,
// and its report mailed again. So [Open] starts afresh only where no file
// exists, and creates that file whole: the database is built and migrated
// under a temporary name beside it (path.new-*), synced, and only then
// linked to its name. A crash during creation leaves no file (the next run
// creates it again; a stray path.new-* can be deleted), never an empty one.
// Any file that exists must be an SQLite database with rtbot's
// schema_migrations table; an empty file (truncated by something else, or
// left by an rtbot older than this rule that crashed while creating it), a
// file that is not SQLite and another program's database are errors naming
// the file, and are left as they are. Deleting the file is how a human
// chooses to start afresh.
//
// # Schema versions
//
// The schema is an ordered list of migrations compiled into the binary. Each
// is applied in its own transaction and recorded in schema_migrations, so
// opening a file applies exactly the migrations it lacks and reopening it is a
// no-op. A file whose schema is newer than the binary knows is refused with
// both versions named, rather than read or written by code that does not
// understand it.
//
// # Exactly-once side effects
//
// Every side effect goes through the actions ledger, keyed by (run, kind,
// key), where key identifies the effect itself: the Message-ID of a mail
// (which the caller generates deterministically from the run, so a rerun
// produces the same one), "branch@commit" of a push, the trigger's name:
//
//  1. [Store.Intend] before the side effect. It records the action as
//     intended and returns it. If the action is already done it says so
//     (alreadyDone) and the caller must skip the effect.
//  2. Perform the side effect.
//  3. [Store.Done] after it succeeded, or [Store.Failed] with the error when
//     it did not; a later [Store.Intend] of a failed action is a retry and
//     counts a further attempt.
//
// A crash between 1 and 3 leaves the action intended. [Store.Pending] lists
// such actions (and failed ones) for the next run, and [Store.Intend] on an
// intended action does not hand it out again: it returns the action with an
// error wrapping [ErrInterrupted], because the effect may or may not have
// happened. The caller reconciles according to the kind of effect: a push
// with compare-and-swap can simply be checked against the remote ref or
// repeated, then marked Done; a mail is looked for by its Message-ID (in the
// sent folder or the list archive) and marked Done if found, or marked Failed
// and intended again if it is known not to have left. Nothing in this package
// repeats a side effect on its own, so the worst a crash can cause is a
// pending action that waits for a decision, never a silent repeat.
//
// # Outcomes
//
// Every announcement ends in an outcome a human can see: done, ignored
// (Reason), waiting for its candidate (Reason, WaitUntil) or failed for good
// (Reason, with a run that ended in error whose error report the ledger
// holds). An ignored or failed one records the configuration its verdict
// was made under (ConfigHash), so that a pass under another configuration
// looks at it again ([Store.RetryAnnouncement]). Message-IDs are
// de-duplicated only among mails rtbot acts on ([Store.RecordAnnouncement]
// replaces an ignored row), and of several announcements of one candidate
// only the first to find it claims it ([Store.ClaimAnnouncement]), so
// neither a forgery from another sender nor one for an rc that does not
// exist yet can block the genuine cover.
//
// Runs follow the same idea one level up: [Store.StartRun] is idempotent on
// (announcement, tree, candidate commit, queue identity), so a run that was
// interrupted is resumed under its existing id and its ledger, instead of
// being started twice.
package state
