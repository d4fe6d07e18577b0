package patchqueue_test

import (
	"fmt"
	"path/filepath"

	"github.com/rtbot/rtbot/internal/patchqueue"
)

// Parse reads one patch: its mail headers, message and unified diff. A
// patch it cannot use still comes back, with Err saying why.
func ExampleParse() {
	data := []byte(`From: Sebastian Andrzej Siewior <bigeasy@linutronix.de>
Date: Tue, 14 Feb 2023 09:00:00 +0100
Subject: [PATCH 3/5] preempt: Put preempt_count_sub() in a do-while

Make it a statement.
---
diff --git a/include/linux/preempt.h b/include/linux/preempt.h
--- a/include/linux/preempt.h
+++ b/include/linux/preempt.h
@@ -1,2 +1,2 @@
 #define X 1
-#define preempt_count_sub(v) __sub(v)
+#define preempt_count_sub(v) do { __sub(v); } while (0)
`)
	p := patchqueue.Parse("0003-preempt.patch", data, 1)
	fmt.Println("err:", p.Err)
	fmt.Println("author:", p.AuthorName, p.Date.UTC().Format("2006-01-02"))
	fmt.Print("message: ", p.Message())
	for _, f := range p.Files {
		for _, h := range f.Hunks {
			fmt.Printf("%s %s @@ -%d,%d +%d,%d: %q\n", f.Op, f.Path(), h.OldStart, h.OldLines, h.NewStart, h.NewLines, h.New())
		}
	}
	// Output:
	// err: <nil>
	// author: Sebastian Andrzej Siewior 2023-02-14
	// message: preempt: Put preempt_count_sub() in a do-while
	//
	// Make it a statement.
	// modify include/linux/preempt.h @@ -1,2 +1,2: ["#define X 1\n" "#define preempt_count_sub(v) do { __sub(v); } while (0)\n"]
}

// Open reads a whole queue: here a quilt directory, whose series file
// gives the order (a tarball, an mbox or a single patch file work too).
func ExampleOpen() {
	q, err := patchqueue.Open(filepath.Join("testdata", "example-queue"), patchqueue.DefaultLimits())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range q.Patches {
		fmt.Printf("%d %s\n  %s <%s>: %s\n", p.Index, p.Name, p.AuthorName, p.AuthorEmail, p.Subject)
		for _, f := range p.Files {
			fmt.Printf("  %s, %d hunk(s)\n", f.Path(), len(f.Hunks))
		}
	}
	fmt.Println("malformed:", len(q.Malformed()))
	// Output:
	// 1 0001-printk-nbcon-on-RT.patch
	//   John Ogness <john.ogness@linutronix.de>: printk: Use nbcon consoles on RT
	//   kernel/printk/printk.c, 1 hunk(s)
	// 2 0002-serial-8250-lock-wrappers.patch
	//   Thomas Gleixner <tglx@linutronix.de>: serial: 8250: Use port lock wrappers
	//   drivers/tty/serial/8250/8250_port.c, 1 hunk(s)
	// malformed: 0
}
