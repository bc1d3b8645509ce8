package preview

// ClientGap is a feature of the mails that a client family does not
// support (caniemail.com's data) and that the mails use anyway, because
// something else stands in for it there or its loss costs the reader
// nothing that matters. The gallery shows each with its reason; any
// unsupported feature not in ClientGaps fails the mail.
type ClientGap struct {
	Feature  string   // caniemail's name, as @jsx-email/doiuse-email reports it
	Families []string // the families it is accepted for
	Reason   string
}

// ClientGaps is the committed list of accepted gaps.
var ClientGaps = []ClientGap{
	{"<body> element", []string{"outlook", "yahoo"},
		"these apps replace <body> and drop its styles; the full-width background table right inside it carries the page colour and layout"},
	{"border-radius", []string{"outlook"},
		"Outlook on Windows draws square corners; the buttons there are VML rounded rectangles"},
	{"display:none", []string{"gmail"},
		"only the preheader uses it; where display is dropped, max-height:0 with overflow:hidden still collapses it"},
	{"opacity", []string{"gmail", "outlook", "yahoo"},
		"one of several properties hiding the preheader; display:none (mso-hide:all in Outlook on Windows) hides it there"},
	{"overflow", []string{"outlook", "yahoo"},
		"one of several properties hiding the preheader; display:none (mso-hide:all in Outlook on Windows) hides it there"},
	{"role attribute", []string{"outlook"},
		"role=\"presentation\" only tells screen readers the tables are layout; without it they may announce a table, and nothing moves"},
	{"white-space", []string{"outlook"},
		"a detail label may wrap onto two lines; the row still reads label then value"},
	{"word-break", []string{"outlook", "yahoo"},
		"a very long value (an email address, a password) may wrap at the cell edge instead of anywhere; the sample values fit at 320 px"},
}

func acceptedGap(feature, family string) (ClientGap, bool) {
	for _, g := range ClientGaps {
		if g.Feature != feature {
			continue
		}
		for _, f := range g.Families {
			if f == family {
				return g, true
			}
		}
	}
	return ClientGap{}, false
}
