package preview

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// The browser tests open every mail in Debian's Chromium, headless, at
// 375 and 600 px (and 320), in light and dark, and look at it as a reader
// would: the code and the button are on screen, not covered, not cut off
// (at 320 px: not cut off, scrolling allowed); every
// text passes WCAG AA contrast against what is behind it; the dark styles
// do apply; nothing is fetched from the network. Screenshots go to
// .screenshots/ at the repository root (ignored by git) for people to
// look at. axe-core, injected into every mail at 375 and 600 px in both
// schemes, finds no serious or critical accessibility violation. Run with
// `make test`, which installs Chromium through apt and axe-core through
// npm when they are missing; without them the tests skip locally and fail
// under CI=true.

// chromiumPath finds Chromium, or skips (fails under CI=true).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "Chromium is not installed (make deps installs it: apt-get install -y chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: " + msg)
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts a headless Chromium with an empty profile and no
// background traffic of its own.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// Start the browser now. (The first call's context owns the browser,
	// so it gets no deadline of its own.)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return bctx
}

// repoRoot is the folder holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := standin.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// screenshotDir is .screenshots/ at the repository root, emptied of the
// previous run's pictures.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), ".screenshots")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pageReport is what inspectJS measures in a rendered mail.
type pageReport struct {
	InnerWidth  float64      `json:"innerWidth"`
	InnerHeight float64      `json:"innerHeight"`
	ScrollWidth float64      `json:"scrollWidth"`
	BodyLum     float64      `json:"bodyLum"`
	Lang        string       `json:"lang"`
	Code        *elemReport  `json:"code"`
	Buttons     []elemReport `json:"buttons"`
	Low         []lowReport  `json:"low"`
}

type elemReport struct {
	Class    string  `json:"class"`
	Text     string  `json:"text"`
	X        float64 `json:"x"`
	Y        float64 `json:"y"`
	W        float64 `json:"w"`
	H        float64 `json:"h"`
	Shown    bool    `json:"shown"`    // on screen and not covered, at the centre
	Contrast float64 `json:"contrast"` // text against its background
}

type lowReport struct {
	Element string  `json:"el"`
	Ratio   float64 `json:"ratio"`
	Need    float64 `json:"need"`
}

// inspectJS measures the page: WCAG 2 relative luminance and contrast,
// the background behind an element being the first opaque one among it
// and its ancestors.
const inspectJS = `(() => {
  const parse = c => { const m = /rgba?\(([^)]+)\)/.exec(c || ""); if (!m) return null;
    const p = m[1].split(",").map(s => parseFloat(s)); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const bgOf = el => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const shown = el => { const s = getComputedStyle(el), r = el.getBoundingClientRect();
    if (s.visibility === "hidden" || s.display === "none" || parseFloat(s.opacity) === 0 || r.width === 0 || r.height === 0) return false;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return !!hit && (hit === el || el.contains(hit)); };
  const info = el => { const r = el.getBoundingClientRect();
    return {class: el.className, text: el.textContent.trim(), x: r.left, y: r.top, w: r.width, h: r.height,
      shown: shown(el), contrast: ratio(parse(getComputedStyle(el).color), bgOf(el))}; };
  const low = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(".preheader")) continue;
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() !== "")) continue;
    const s = getComputedStyle(el);
    if (s.display === "none" || s.visibility === "hidden") continue;
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    const need = (size >= 24 || (size >= 18.66 && bold)) ? 3 : 4.5;
    const r = ratio(parse(s.color), bgOf(el));
    if (r < need) low.push({el: el.tagName.toLowerCase() + (el.className ? "." + el.className : ""), ratio: Math.round(r * 100) / 100, need});
  }
  const code = document.querySelector(".code, .secret");
  return {innerWidth, innerHeight, scrollWidth: document.documentElement.scrollWidth,
    bodyLum: lum(bgOf(document.body)), lang: document.documentElement.lang,
    code: code ? info(code) : null,
    buttons: [...document.querySelectorAll("a.btn, a.btn2")].map(info), low};
})()`

type viewport struct {
	width, height int64
	mobile        bool
	fold          bool // the code and the buttons must show without scrolling
}

var (
	// 375 and 600 px are the widths the mails are designed for; 320 px
	// (the smallest phones) must still fit and read well, scrolling
	// allowed.
	viewports = []viewport{{320, 568, true, false}, {375, 667, true, true}, {600, 800, false, true}}
	schemes   = []string{"light", "dark"}
)

// axeSource is axe-core's browser build from node_modules (npm ci, or
// make deps); missing, the test skips, and fails under CI=true.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		msg := "axe-core is not installed (npm ci, or make deps)"
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: " + msg)
		}
		t.Skip(msg)
	}
	return string(b)
}

// axeViolation is one serious or critical axe-core rule violation; the
// targets are CSS selectors, never text.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Nodes   int      `json:"nodes"`
	Targets []string `json:"targets"`
}

// axeRunJS runs axe-core over the page (WCAG 2 A and AA and best
// practices) and keeps the serious and critical violations.
const axeRunJS = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
  .filter(v => v.impact === "serious" || v.impact === "critical")
  .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
    targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))})))`

// checkAxe injects axe-core into the open page and fails on any serious
// or critical violation, as a screen-reader user would meet it.
func checkAxe(t *testing.T, ctx context.Context, src string) {
	t.Helper()
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+"\n;typeof axe === \"object\"")); err != nil || !ok {
		t.Fatalf("inject axe-core: loaded %v, %v", ok, err)
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeRunJS, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	for _, v := range vs {
		t.Errorf("axe-core %s violation %s (%s) on %d elements: %s", v.Impact, v.ID, v.Help, v.Nodes, strings.Join(v.Targets, ", "))
	}
}

// TestAxeFindsViolations: the axe pass is not blind: a page with an image
// without alt text and a link without a name has critical and serious
// violations.
func TestAxeFindsViolations(t *testing.T) {
	ctx := newBrowser(t)
	src := axeSource(t)
	page := filepath.Join(t.TempDir(), "bad.html")
	if err := os.WriteFile(page, []byte(`<!DOCTYPE html><html lang="en"><head><title>t</title></head><body><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><a href="https://example.com/"></a></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(rctx, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatal(err)
	}
	if ok, err := chromedp.Run(rctx, chromedp.Evaluate[bool](src+"\n;typeof axe === \"object\"")); err != nil || !ok {
		t.Fatalf("inject axe-core: loaded %v, %v", ok, err)
	}
	vs, err := chromedp.Run(rctx, chromedp.Evaluate[[]axeViolation](axeRunJS, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, v := range vs {
		found[v.ID] = true
	}
	if !found["image-alt"] || !found["link-name"] {
		t.Errorf("axe-core found %v, want image-alt and link-name", found)
	}
}

// TestBrowserRendering is the browser pass over every mail.
func TestBrowserRendering(t *testing.T) {
	ctx := newBrowser(t)
	shots := screenshotDir(t)
	axe := axeSource(t)
	mails := buildAll(t)
	dir := t.TempDir()
	if err := Write(dir, mails, GalleryOptions{}); err != nil {
		t.Fatal(err)
	}

	// Anything but a local file is a request the mail should not make.
	var mu sync.Mutex
	var fetched []string
	err := chromedp.Listen(ctx, func(ev any) {
		var u string
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			u = e.Request.URL
		case network.EventRequestWillBeSent:
			u = e.Request.URL
		default:
			return
		}
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "about:") {
			mu.Lock()
			fetched = append(fetched, u)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}

	for _, m := range mails {
		for _, vp := range viewports {
			for _, scheme := range schemes {
				name := fmt.Sprintf("%s-%s-%d-%s", m.Locale, m.Trigger, vp.width, scheme)
				t.Run(name, func(t *testing.T) {
					rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					defer cancel()
					err := chromedp.Do(rctx,
						chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
							_, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
								Width: vp.width, Height: vp.height, DeviceScaleFactor: 1, Mobile: vp.mobile,
							})
							if err != nil {
								return err
							}
							_, err = cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
								Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
							})
							return err
						}),
						chromedp.Navigate("file://"+filepath.Join(dir, m.Locale, m.Trigger+".html")),
					)
					if err != nil {
						t.Fatalf("Chromium: %v", err)
					}
					rep, err := chromedp.Run(rctx, chromedp.Evaluate[pageReport](inspectJS))
					if err != nil {
						t.Fatalf("Chromium: %v", err)
					}
					png, err := chromedp.Run(rctx, chromedp.FullScreenshot(100))
					if err != nil {
						t.Fatalf("Chromium: %v", err)
					}
					if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
						t.Fatal(err)
					}
					checkPage(t, m, vp, scheme, rep)
					if vp.width == 375 || vp.width == 600 {
						checkAxe(t, rctx, axe)
					}
				})
			}
		}
	}
	if len(fetched) > 0 {
		t.Errorf("the mails made %d network requests, first %s", len(fetched), redact(fetched[0]))
	}
}

// checkPage asserts what a reader would notice. Messages name elements
// and numbers; the only text they may quote is fake sample data.
func checkPage(t *testing.T, m Mail, vp viewport, scheme string, rep pageReport) {
	t.Helper()
	if rep.InnerWidth != float64(vp.width) {
		t.Fatalf("viewport is %v px wide, want %d", rep.InnerWidth, vp.width)
	}
	if rep.ScrollWidth > rep.InnerWidth {
		t.Errorf("the page is %v px wide in a %v px viewport: it scrolls sideways", rep.ScrollWidth, rep.InnerWidth)
	}
	if rep.Lang != m.Locale {
		t.Errorf("<html lang=%q>, want %q", rep.Lang, m.Locale)
	}
	switch {
	case scheme == "dark" && rep.BodyLum > 0.05:
		t.Errorf("dark scheme: the page background has luminance %.2f; the dark styles do not apply", rep.BodyLum)
	case scheme == "light" && rep.BodyLum < 0.8:
		t.Errorf("light scheme: the page background has luminance %.2f", rep.BodyLum)
	}
	for _, l := range rep.Low {
		t.Errorf("<%s> text contrast %.2f:1, WCAG AA needs %.1f:1", l.Element, l.Ratio, l.Need)
	}
	inView := func(what string, e elemReport) {
		t.Helper()
		switch {
		case e.X < 0 || e.X+e.W > rep.InnerWidth:
			t.Errorf("%s spans x %.0f–%.0f, outside the %v px viewport", what, e.X, e.X+e.W, rep.InnerWidth)
		case !vp.fold:
		case e.Y < 0 || e.Y+e.H > rep.InnerHeight:
			t.Errorf("%s spans y %.0f–%.0f, below the %v px screen: the reader must scroll to see it", what, e.Y, e.Y+e.H, rep.InnerHeight)
		case !e.Shown:
			t.Errorf("%s is hidden or covered", what)
		}
	}
	if code := m.Code(); code != "" {
		switch {
		case rep.Code == nil:
			t.Error("no code element")
		case rep.Code.Text != code:
			t.Error("the code element does not hold the code")
		default:
			inView("the code", *rep.Code)
			if rep.Code.Contrast < 4.5 {
				t.Errorf("the code has contrast %.2f:1", rep.Code.Contrast)
			}
		}
	}
	wantButtons := map[string]int{render.ForgotPassword: 1, render.AccountTakeOverNotification: 2, "notice": 1, "welcome": 1}[m.Trigger]
	if len(rep.Buttons) != wantButtons {
		t.Fatalf("%d buttons, want %d", len(rep.Buttons), wantButtons)
	}
	for i, b := range rep.Buttons {
		what := fmt.Sprintf("button %d (%s)", i+1, b.Class)
		if b.Contrast < 4.5 {
			t.Errorf("%s text has contrast %.2f:1 against the button, WCAG AA needs 4.5:1", what, b.Contrast)
		}
		if b.W < 44 || b.H < 40 {
			t.Errorf("%s is %.0f×%.0f px, too small to tap", what, b.W, b.H)
		}
		inView(what, b)
	}
}

// galleryReport is what galleryJS measures on the gallery page.
type galleryReport struct {
	Summary     string    `json:"summary"`
	Frames      int       `json:"frames"`
	Unfitted    int       `json:"unfitted"`    // frames shorter than their mail
	LightLum    []float64 `json:"lightLum"`    // page background inside light frames
	DarkLum     []float64 `json:"darkLum"`     // and inside dark frames
	FrameWidths []float64 `json:"frameWidths"` // of the visible frames
}

const galleryJS = `(() => {
  const lum = c => { const m = /rgba?\(([^)]+)\)/.exec(c); const p = m[1].split(",").map(s => parseFloat(s));
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(p[0]) + 0.7152 * f(p[1]) + 0.0722 * f(p[2]); };
  const frames = [...document.querySelectorAll("iframe")];
  const inside = sel => frames.filter(f => f.closest(sel)).map(f => lum(getComputedStyle(f.contentDocument.body).backgroundColor));
  return {
    summary: document.querySelector(".summary").textContent.trim(),
    frames: frames.length,
    unfitted: frames.filter(f => f.offsetParent && f.getBoundingClientRect().height + 1 < f.contentDocument.documentElement.scrollHeight).length,
    lightLum: inside("figure.light"), darkLum: inside("figure.dark"),
    frameWidths: frames.filter(f => f.offsetParent).map(f => f.getBoundingClientRect().width),
  };
})()`

// TestBrowserGallery opens the static gallery: every mail is shown, light
// frames light and dark frames dark, each frame as tall as its mail, and
// the width switch works. Screenshots: .screenshots/gallery*.png.
func TestBrowserGallery(t *testing.T) {
	ctx := newBrowser(t)
	shots := filepath.Join(repoRoot(t), ".screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	r := newRenderer(t)
	dir := t.TempDir()
	if err := Write(dir, buildAll(t), GalleryOptions{Languages: Languages(r), Axe: []byte(axeSource(t))}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	err := chromedp.Do(rctx,
		chromedp.EmulateViewport(1600, 1000),
		chromedp.Navigate("file://"+filepath.Join(dir, "index.html")),
		chromedp.Sleep(300*time.Millisecond), // frames load and are fitted
	)
	if err != nil {
		t.Fatalf("Chromium: %v", err)
	}
	// axe-core runs in every frame: each mail's axe line ends pending.
	axe, err := chromedp.Run(rctx, chromedp.Evaluate[[]string](`new Promise(resolve => { const done = () => {
	    const s = [...document.querySelectorAll("li.axe")].map(li => li.dataset.axe + ": " + li.textContent);
	    if (s.every(x => !x.startsWith("pending"))) resolve(s); else setTimeout(done, 200); }; done(); })`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("Chromium: waiting for axe-core in the gallery: %v", err)
	}
	if len(axe) != 20 {
		t.Errorf("%d axe lines in the gallery, want 20 (10 templates in 2 locales)", len(axe))
	}
	for _, a := range axe {
		if !strings.HasPrefix(a, "pass: ") {
			t.Errorf("gallery axe line %q, want a pass", a)
		}
	}
	rep, err := chromedp.Run(rctx, chromedp.Evaluate[galleryReport](galleryJS))
	if err != nil {
		t.Fatalf("Chromium: %v", err)
	}
	if rep.Summary != "20 mails · all 180 checks pass" {
		t.Errorf("summary %q", rep.Summary)
	}
	if rep.Frames != 40 || len(rep.LightLum) != 20 || len(rep.DarkLum) != 20 {
		t.Errorf("%d frames (%d light, %d dark), want 20 of each", rep.Frames, len(rep.LightLum), len(rep.DarkLum))
	}
	for i := range rep.LightLum {
		if rep.LightLum[i] < 0.8 || rep.DarkLum[i] > 0.05 {
			t.Errorf("frame pair %d: background luminance light %.2f, dark %.2f", i, rep.LightLum[i], rep.DarkLum[i])
		}
	}
	if rep.Unfitted > 0 {
		t.Errorf("%d frames are shorter than their mail", rep.Unfitted)
	}
	for _, w := range rep.FrameWidths {
		if w != 602 { // 600 px and the border
			t.Errorf("a frame is %v px wide at width 600", w)
			break
		}
	}
	first, err := chromedp.Run(rctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	full, err := chromedp.Run(rctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	// The width switch: 375 px frames, light only.
	err = chromedp.Do(rctx,
		chromedp.Click(chromedp.CSS(`.seg[data-set="width"] button[data-v="375"]`)),
		chromedp.Click(chromedp.CSS(`.seg[data-set="scheme"] button[data-v="light"]`)),
		chromedp.Sleep(200*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("Chromium: %v", err)
	}
	rep, err = chromedp.Run(rctx, chromedp.Evaluate[galleryReport](galleryJS))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.FrameWidths) != 20 || rep.FrameWidths[0] != 377 {
		t.Errorf("after choosing 375 px, light: %d frames shown, first %v px wide", len(rep.FrameWidths), rep.FrameWidths)
	}
	narrow, err := chromedp.Run(rctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	for name, png := range map[string][]byte{"gallery.png": first, "gallery-full.png": full, "gallery-375-light.png": narrow} {
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
