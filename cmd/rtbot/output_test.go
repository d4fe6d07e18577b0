package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
)

// TestPrintPassReport: a run says "mailed" only for a report the server
// took, and says why another was not.
func TestPrintPassReport(t *testing.T) {
	var b bytes.Buffer
	printPass(&b, &pipeline.Pass{Runs: []pipeline.RunReport{
		{RunID: 1, Tree: "6.1-rt", Candidate: "6.1.12-rc1", Outcome: state.OutcomeManual, Mail: "rtbot.1@x"},
		{RunID: 2, Tree: "6.1-rt", Candidate: "6.1.13-rc1", Outcome: pipeline.OutcomeUnfinished,
			NotMailed: "report <rtbot.2@x> not sent: smtp h:25: dial: connection refused; the next pass tries again"},
	}})
	out := b.String()
	for _, want := range []string{"run 1: 6.1-rt on 6.1.12-rc1: manual\n  mailed   <rtbot.1@x>\n",
		"run 2: 6.1-rt on 6.1.13-rc1: unfinished\n  NOT MAILED: report <rtbot.2@x> not sent: smtp h:25: dial: connection refused; the next pass tries again\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "mailed   <") != 1 {
		t.Errorf("a report not sent is said mailed:\n%s", out)
	}
}
