//go:build integration

package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser the integration tier runs the HTML report
// in. It fails, never skips: `make test` installs Debian's chromium package.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HOHEIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install it with `apt-get install -y --no-install-recommends chromium` (make test does), or point HOHEIT_CHROMIUM at a Chrome binary")
	return ""
}

// TestHTMLInBrowser opens the sample report in headless Chromium, checks the
// findings render, that every filter changes what is shown, that nothing
// is loaded from the network and no script runs but ours, and saves a
// screenshot (also to $HOHEIT_REPORT_SCREENSHOT when set, for a person to
// look at).
func TestHTMLInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	res := sampleResult()
	var buf bytes.Buffer
	if err := Write(context.Background(), &buf, "html", res, testOptions); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDocument(res, testOptions)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1360, 1000),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// The first Run starts the browser; it must not carry the deadline.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`1`)); err != nil {
		t.Fatalf("starting Chromium %s: %v", exe, err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "script exception: "+(&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error())
		case *page.EventJavascriptDialogOpening:
			problems = append(problems, "a dialog opened (injected script ran?): "+e.Message)
		}
	}); err != nil {
		t.Fatal(err)
	}

	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("evaluating %s: %v", js, err)
		}
		return n
	}
	visible := func() int {
		return eval(`document.querySelectorAll("details.finding:not([hidden])").length`)
	}
	choose := func(id, value string) {
		t.Helper()
		// Set the select as a user would and fire the change event the
		// page listens to.
		run(chromedp.SetValue(chromedp.ID(id), value),
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).dispatchEvent(new Event("change"))`, id)))
	}
	reset := func() { t.Helper(); run(chromedp.Click(chromedp.ID("f-reset"))) }
	count := func(keep func(f *finding) bool) int {
		n := 0
		for i := range d.Findings {
			if keep(&d.Findings[i]) {
				n++
			}
		}
		return n
	}

	run(chromedp.Navigate("file://"+file), chromedp.WaitVisible(chromedp.ID("finding-list")))

	if got, want := visible(), len(d.Findings); got != want || want == 0 {
		t.Fatalf("%d finding rows render, want %d", got, want)
	}
	if eval(`document.querySelector("#filters").offsetHeight > 0 ? 1 : 0`) != 1 {
		t.Error("the filter bar is not shown although scripts run")
	}

	filters := []struct {
		id, value string
		keep      func(f *finding) bool
	}{
		{"f-severity", "high", func(f *finding) bool { return f.Severity == "high" }},
		{"f-framework", "gdpr", func(f *finding) bool { _, ok := f.Frameworks["gdpr"]; return ok }},
		{"f-framework", "baseline", func(f *finding) bool { return f.Pack == "baseline" || f.Pack == "" && len(f.Frameworks) == 0 }},
		{"f-provider", "gcp", func(f *finding) bool { return f.Resource.Provider == "gcp" }},
		{"f-status", "suppressed", func(f *finding) bool { return f.Status == "suppressed" }},
	}
	for _, c := range filters {
		reset()
		choose(c.id, c.value)
		want := count(c.keep)
		if got := visible(); got != want || want == len(d.Findings) {
			t.Errorf("%s=%s shows %d findings, want %d of %d", c.id, c.value, got, want, len(d.Findings))
		}
	}

	// Free text, typed: words must all match, case-insensitively.
	reset()
	run(chromedp.SendKeys(chromedp.ID("f-text"), "Kubernetes"))
	if got, want := visible(), count(func(f *finding) bool { return f.Resource.Provider == "kubernetes" }); got != want {
		t.Errorf("search kubernetes shows %d findings, want %d", got, want)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("shown-count")))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("1 of %d", len(d.Findings)); shown != want {
		t.Errorf("counter says %q, want %q", shown, want)
	}

	// Filters combine; nothing left shows the empty note.
	reset()
	choose("f-provider", "gcp")
	choose("f-severity", "medium")
	if got := visible(); got != 0 {
		t.Errorf("gcp and medium show %d findings, want 0", got)
	}
	if eval(`document.getElementById("no-match").hidden ? 0 : 1`) != 1 {
		t.Error("no note says that no finding matches")
	}

	// A severity card filters to that severity's failures; a control link to
	// the control's findings.
	reset()
	run(chromedp.Click(chromedp.CSS(`a.card.sev-critical`)))
	if got, want := visible(), count(func(f *finding) bool { return f.Severity == "critical" && f.Status == "fail" }); got != want {
		t.Errorf("critical card shows %d findings, want %d", got, want)
	}
	reset()
	run(chromedp.Click(chromedp.CSS(`#fw-bsi-c5 a[data-filter-text="bsi-c5:cry-03"]`)))
	if got, want := visible(), count(func(f *finding) bool { return strings.Contains(csvFrameworks(f.Frameworks), "bsi-c5:CRY-03") }); got != want {
		t.Errorf("control CRY-03 shows %d findings, want %d", got, want)
	}

	// Expanding a finding shows its evidence, remediation and exception.
	reset()
	run(chromedp.Click(chromedp.CSS(`#finding-2 summary`)), chromedp.WaitVisible(chromedp.CSS(`#finding-2 .exception`)))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#finding-2 .body`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Bürgerportal", "web-team@bund.example", "2027-03-31", `"public": true`, "public access block", "infra/azure/web.tf:40"} {
		if !strings.Contains(text, want) {
			t.Errorf("expanded finding lacks %q:\n%s", want, text)
		}
	}
	run(chromedp.Click(chromedp.CSS(`#finding-1 summary`)))

	// Self-contained: no request beyond the file itself, one script only.
	if n := eval(`performance.getEntriesByType("resource").length`); n != 0 {
		t.Errorf("the page loaded %d resources; it must load none", n)
	}
	if n := eval(`document.scripts.length`); n != 1 {
		t.Errorf("the page has %d scripts, want exactly our one (is a resource name unescaped?)", n)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, "report.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("HOHEIT_REPORT_SCREENSHOT"); p != "" {
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot written to %s", p)
	}

	// A clean scan: no findings, no filter bar, and the script still runs
	// without an exception.
	var clean bytes.Buffer
	if err := Write(context.Background(), &clean, "html", emptyResult(), testOptions); err != nil {
		t.Fatal(err)
	}
	cleanFile := filepath.Join(dir, "clean.html")
	if err := os.WriteFile(cleanFile, clean.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run(chromedp.Navigate("file://"+cleanFile), chromedp.WaitVisible(chromedp.CSS(`#findings .empty`)))
	if n := eval(`document.querySelectorAll("details.finding, #filters").length`); n != 0 {
		t.Errorf("the clean report shows %d finding rows or filters", n)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}
