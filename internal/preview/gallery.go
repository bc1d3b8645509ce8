package preview

import (
	_ "embed"
	"fmt"
	stdhtml "html"
	"html/template"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/Phenom-earth/phenom-mailer/templates"
)

//go:embed gallery.html
var galleryHTML string

var galleryTemplate = template.Must(template.New("gallery").Funcs(template.FuncMap{
	"kb":    KB,
	"runes": utf8.RuneCountInString,
}).Parse(galleryHTML))

// GalleryOptions changes the gallery for the live server.
type GalleryOptions struct {
	// LiveReload adds a script that reloads the page when the server
	// reports a template change (Server's /_events stream).
	LiveReload bool
	// Error, when set, is shown in a banner above the mails: the templates
	// on disk do not load, and the mails shown are the last good ones.
	Error string
	// Languages maps a locale to its own name ("Español"); missing ones
	// show the locale code.
	Languages map[string]string
	// Axe is axe-core's browser build (node_modules/axe-core/axe.min.js).
	// When set, Write puts it beside the gallery as axe.min.js and the
	// gallery, once open in a browser, runs it in every mail frame and
	// shows the serious and critical violations per mail and scheme.
	Axe []byte
	// AxeMissing, when Axe is empty, says why ("axe-core missing (npm ci)"):
	// the gallery then shows that axe was not checked.
	AxeMissing string
}

// Descriptions say when each mail is sent, for the gallery: the
// registry's descriptions (templates.Registry).
var Descriptions = func() map[string]string {
	out := map[string]string{}
	for _, t := range templates.Registry {
		out[t.Name] = t.Description
	}
	return out
}()

type galleryMail struct {
	Mail
	Language  string
	Preheader string
	Failed    int
}

// ID is the mail's element id in the gallery: "en-ForgotPassword".
func (m galleryMail) ID() string { return m.Locale + "-" + m.Trigger }

type galleryGroup struct {
	Trigger     string
	Description string
	Mails       []galleryMail
}

type galleryPage struct {
	GalleryOptions
	Groups   []galleryGroup
	Locales  []galleryLocale
	Mails    int
	Checks   int
	Failed   int
	Failures []galleryRef
	// The receivers' verdicts: reached, failed, and not checked (a tool
	// is missing).
	Verdicts, VerdictsFailed, NotChecked int
}

type galleryRef struct{ ID, Name string }

type galleryLocale struct{ Code, Name string }

// WriteGallery writes the gallery page: every mail, grouped by trigger,
// with its subject, preheader, sizes, check results, the receivers'
// verdicts (when Judge ran), the plain text and the HTML shown in frames
// at 375 or 600 px, light and dark.
func WriteGallery(w io.Writer, mails []Mail, opts GalleryOptions) error {
	page := galleryPage{GalleryOptions: opts}
	index := map[string]int{}
	seen := map[string]bool{}
	for _, m := range mails {
		i, ok := index[m.Trigger]
		if !ok {
			i = len(page.Groups)
			index[m.Trigger] = i
			page.Groups = append(page.Groups, galleryGroup{Trigger: m.Trigger, Description: Descriptions[m.Trigger]})
		}
		name := opts.Languages[m.Locale]
		if name == "" {
			name = m.Locale
		}
		if !seen[m.Locale] {
			seen[m.Locale] = true
			page.Locales = append(page.Locales, galleryLocale{Code: m.Locale, Name: name})
		}
		gm := galleryMail{Mail: m, Language: name, Preheader: previewLine(m.Message.HTML)}
		for _, c := range m.Checks {
			page.Checks++
			if !c.OK {
				gm.Failed++
				page.Failed++
			}
		}
		for _, v := range m.Receivers {
			switch {
			case !v.Checked:
				page.NotChecked++
			case !v.OK:
				gm.Failed++
				page.Verdicts++
				page.VerdictsFailed++
			default:
				page.Verdicts++
			}
		}
		if gm.Failed > 0 {
			page.Failures = append(page.Failures, galleryRef{ID: gm.ID(), Name: m.Name()})
		}
		page.Mails++
		page.Groups[i].Mails = append(page.Groups[i].Mails, gm)
	}
	if err := galleryTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("preview: gallery: %w", err)
	}
	return nil
}

// previewLine is the preheader an inbox shows next to the subject.
func previewLine(doc string) string {
	const open = `class="preheader"`
	i := strings.Index(doc, open)
	if i < 0 {
		return ""
	}
	rest := doc[i:]
	if j := strings.IndexByte(rest, '>'); j >= 0 {
		rest = rest[j+1:]
	}
	if j := strings.Index(rest, "</div>"); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimRight(stdhtml.UnescapeString(rest), "\u034f\u200c\u00a0 \n")
}
