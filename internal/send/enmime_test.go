package send

import (
	"bytes"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"github.com/Phenom-earth/phenom-mailer/internal/render"
	"github.com/Phenom-earth/phenom-mailer/templates"
)

// buildWithEnmime is the reference for Sender.encode: the MIME as enmime
// builds it (MailBuilder, every body part forced quoted-printable, Go's
// quotedprintable.Writer), as Build wrote it before the mailer had a writer
// of its own. Same date, ids and, with RandSeed, boundary.
func buildWithEnmime(t testing.TB, s *Sender, m Message) []byte {
	t.Helper()
	to, err := SESRecipient(m.To)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.newID()
	if err != nil {
		t.Fatal(err)
	}
	b := enmime.Builder().
		From(s.From.Name, s.From.Address).
		To("", to).
		Subject(encodeSubject(m.Subject)).
		Date(s.Now()).
		Header("Message-ID", "<"+ref+"@"+Domain(s.From.Address)+">").
		Header("X-Entity-Ref-ID", ref).
		Text([]byte(m.Text)).
		HTML([]byte(m.HTML))
	if s.RandSeed != 0 {
		b = b.RandSeed(s.RandSeed)
	}
	part, err := b.Build()
	if err != nil {
		t.Fatalf("enmime: %v", err)
	}
	qp := enmime.NewEncoder(enmime.ForceQuotedPrintableCte(true))
	_ = part.DepthMatchAll(func(p *enmime.Part) bool {
		if p.FirstChild == nil {
			p.WithEncoder(qp)
		}
		return false
	})
	var buf bytes.Buffer
	if err := part.Encode(&buf); err != nil {
		t.Fatalf("enmime: %v", err)
	}
	return buf.Bytes()
}

// sameAsEnmime fails t when Build's bytes for m differ from enmime's.
func sameAsEnmime(t testing.TB, s *Sender, m Message) {
	t.Helper()
	got, err := s.Build(m)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	// enmime gets the parts with "\n" line ends, as Build encodes them
	// (lineFeeds); for parts without "\r" that is the parts themselves.
	m.Text, m.HTML = lineFeeds(m.Text), lineFeeds(m.HTML)
	want := buildWithEnmime(t, s, m)
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("Build differs from enmime at octet %d of %d (enmime %d): ...%q... vs ...%q...",
			i, len(got), len(want), got[max(0, i-40):min(len(got), i+40)], want[max(0, i-40):min(len(want), i+40)])
	}
}

func enmimeSender(t testing.TB, fromName string) *Sender {
	t.Helper()
	return &Sender{
		From:     mailAddress(fromName, "noreply@thephenom.app"),
		Now:      func() time.Time { return time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) },
		RandSeed: 42,
	}
}

// TestBuildMatchesEnmime: the whole built mail, boundary included, is
// byte for byte what enmime builds, for every shipped mail (every
// template in every locale with its sample data) and for hostile
// subjects, bodies and From names.
func TestBuildMatchesEnmime(t *testing.T) {
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := enmimeSender(t, "Phenom")
	n := 0
	for _, name := range render.Templates {
		for _, loc := range r.Locales() {
			for _, d := range render.Samples(name) {
				d.Locale = loc
				msg, err := r.Render(d)
				if err != nil {
					t.Fatal(err)
				}
				if strings.ContainsRune(msg.Text+msg.HTML, '\r') {
					t.Errorf("%s in %s: a rendered part has a CR, which Build rewrites (lineFeeds)", name, loc)
				}
				sameAsEnmime(t, s, Message{To: "qa+reset@thephenom.app", Subject: msg.Subject, HTML: msg.HTML, Text: msg.Text})
				n++
			}
		}
	}
	if n < len(render.Templates) {
		t.Fatalf("compared %d mails", n)
	}
	long := strings.Repeat("Phenom ", 40)
	for _, from := range []string{"", "Phenom", "Phénom Équipe", long, strings.Repeat("é", 300), "tab\there", "ctl\x01name", strings.Repeat("x", 200)} {
		for _, m := range []Message{
			sampleMessage(),
			{To: "a@b.example", Subject: strings.Repeat("🦄", 50), Text: strings.Repeat("x", 3000), HTML: strings.Repeat("é", 1500) + " \n\t\n"},
			{To: "user@bücher.example", Subject: "=?utf-8?q?x?=", Text: "a\rb\r\nc\n", HTML: "trailing space \n"},
			{To: "x@y.example", Subject: long[:190], Text: "\x00\x7f=\r\xff\n", HTML: strings.Repeat("<td style=\"a:b\">", 200)},
		} {
			sameAsEnmime(t, enmimeSender(t, from), m)
		}
	}
}

// TestBuildBoundary: without RandSeed the boundary has enmime's form, and
// with it replaced by enmime's the mail is enmime's.
func TestBuildBoundary(t *testing.T) {
	s := enmimeSender(t, "Phenom")
	s.RandSeed = 0
	m := sampleMessage()
	raw, err := s.Build(m)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`enmime-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)
	bs := re.FindAll(raw, -1)
	if len(bs) != 4 {
		t.Fatalf("found %d boundaries of enmime's form, want 4 (header and three delimiters)", len(bs))
	}
	raw2, _ := s.Build(m)
	if b2 := re.Find(raw2); bytes.Equal(b2, bs[0]) {
		t.Fatal("two mails have the same boundary")
	}
	// Same ids for both builders: the seed fixes them, the boundary is put back.
	s.RandSeed = 42
	want := buildWithEnmime(t, s, m)
	s.RandSeed = 0
	id, _ := (&Sender{RandSeed: 42}).newID()
	got := bytes.ReplaceAll(raw, bs[0], re.Find(want))
	if !bytes.Equal(bytes.ReplaceAll(got, idPattern.Find(got), []byte(id)), want) {
		t.Fatalf("with enmime's boundary and ids the mail differs from enmime's:\n%s\n---\n%s", got, want)
	}
}

var idPattern = regexp.MustCompile(`[0-9a-f]{32}`)

// FuzzBuildMatchesEnmime: for any subject, bodies and From name Build
// accepts, the mail is byte for byte enmime's (for the bodies with "\n"
// line ends, see lineFeeds).
func FuzzBuildMatchesEnmime(f *testing.F) {
	f.Add("Réinitialisez votre mot de passe", "Your code: 123456\n", "<p style=\"color:#fff\">123456</p>\n", "Phenom")
	f.Add(strings.Repeat("🦄", 50), strings.Repeat("x", 3000), strings.Repeat("é", 1500)+" \n\t\n", "Phénom")
	f.Add("=?utf-8?q?x?=", "a\rb\r\nc\n", "trailing space \n", strings.Repeat("long name ", 12))
	f.Fuzz(func(t *testing.T, subject, text, html, fromName string) {
		if subject == "" || text == "" || html == "" || strings.ContainsAny(subject, "\r\n") || strings.ContainsAny(fromName, "\r\n") ||
			len([]rune(subject)) > MaxSubject {
			t.Skip()
		}
		s := enmimeSender(t, fromName)
		m := sampleMessage()
		m.Subject, m.Text, m.HTML = subject, text, html
		got, err := s.Build(m)
		if err != nil {
			t.Skip() // what Build refuses (a line CheckWire rejects) enmime is not asked about
		}
		// enmime gets the parts with "\n" line ends, as Build encodes them
		// (lineFeeds); for parts without "\r", such as every rendered
		// mail, that is the parts themselves.
		m.Text, m.HTML = lineFeeds(m.Text), lineFeeds(m.HTML)
		if want := buildWithEnmime(t, s, m); !bytes.Equal(got, want) {
			t.Fatalf("Build differs from enmime:\n%q\n%q", got, want)
		}
	})
}

func mailAddress(name, addr string) mail.Address { return mail.Address{Name: name, Address: addr} }

// BenchmarkBuild is Build of the ForgotPassword mail (unsigned), with the
// enmime reference beside it for comparison.
func BenchmarkBuild(b *testing.B) {
	r, err := render.New(templates.FS, render.Options{})
	if err != nil {
		b.Fatal(err)
	}
	msg, err := r.Render(render.Data{Trigger: render.ForgotPassword, Locale: "en", Email: "qa+reset@thephenom.app", Username: "u", Code: "836251"})
	if err != nil {
		b.Fatal(err)
	}
	m := Message{To: "qa+reset@thephenom.app", Subject: msg.Subject, HTML: msg.HTML, Text: msg.Text}
	s := enmimeSender(b, "Phenom")
	s.RandSeed = 0
	b.Run("mailer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Build(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("enmime", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buildWithEnmime(b, s, m)
		}
	})
	raw, _ := s.Build(m)
	b.Run("CheckWire", func(b *testing.B) {
		for b.Loop() {
			if err := CheckWire(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendQP", func(b *testing.B) {
		dst := make([]byte, 0, 2*len(m.HTML))
		for b.Loop() {
			dst = appendQP(dst[:0], m.HTML)
		}
	})
}
