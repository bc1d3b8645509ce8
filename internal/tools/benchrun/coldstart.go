package benchrun

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// ColdStart is what RunColdStart measured: the cold-start figures of `make
// bench` alone, for working on the cold path without the whole run.
type ColdStart struct {
	// Ready and Handled: process start → "mailer ready" and → the outcome
	// line, `mailer invoke` against the stand-ins on 127.0.0.1.
	Ready, Handled Series
	// LatHandled, LatHandler: process start → outcome line and the
	// handler's own duration_ms, with KMSLatency and SESLatency injected;
	// PeerLat likewise for the Node peer.
	LatHandled, LatHandler, PeerLat, PeerLatHandler Series
	// Old*: the same for Options.CompareBin, run interleaved with this
	// tree's binary (old, new, peer, …).
	OldReady, OldHandled, OldLatHandled, OldLatHandler Series
	// ExactHandled, OldExactHandled, PeerExact: process start → outcome
	// line with SES answering in exactly SESLatency (exactProxy).
	ExactHandled, OldExactHandled, PeerExact Series
	// CPU, OldCPU: user + system CPU time of each mailer invoke process
	// (without latency), steadier than wall time on a busy machine.
	CPU, OldCPU Series
	// InitAfter, InitBefore, InitFloor: summed package initialisation
	// (inittrace) of this tree's Lambda binary, InitBaseline's and
	// InitFloorPackage's.
	InitAfter, InitBefore, InitFloor []InitTrace
	// Stages: the new binary's stage timings (the outcome's stages), with
	// latency injected, by name.
	Stages map[string]Series
	// FloorIdentity, FloorSend: GetEmailIdentity and SendEmail through the
	// slow SES stand-in from a warm client (stack.sesFloor).
	FloorIdentity, FloorSend Series
}

// RunColdStart runs only the cold-start part of `make bench` (inittrace
// against the baseline, mailer invoke and the Node peer with and without
// injected latency) and writes no doc. With o.CompareBin set, that binary
// (an older tree's build) is timed interleaved with this tree's.
func RunColdStart(ctx context.Context, o Options) (*ColdStart, error) {
	cs := &ColdStart{}
	scratch, err := os.MkdirTemp("", "phenom-coldstart-")
	if err != nil {
		return cs, err
	}
	defer os.RemoveAll(scratch)
	bin := filepath.Join(scratch, "bootstrap")
	if err := buildMailer(ctx, o.Go, o.Root, bin, o.Log); err != nil {
		return cs, err
	}
	if o.InitRuns > 0 {
		base := filepath.Join(scratch, "bootstrap-baseline")
		if err := buildBaseline(ctx, o.Go, o.Root, scratch, base, o.Log); err != nil {
			return cs, fmt.Errorf("the baseline %s: %w", InitBaseline, err)
		}
		floor := filepath.Join(scratch, "initfloor")
		if err := buildInitFloor(ctx, o.Go, o.Root, floor, o.Log); err != nil {
			return cs, err
		}
		if cs.InitBefore, cs.InitAfter, cs.InitFloor, err = runInitTraces(ctx, o.InitRuns, base, bin, floor); err != nil {
			return cs, err
		}
	}
	st, err := startStack(ctx, scratch)
	if err != nil {
		return cs, err
	}
	defer st.close()
	event := filepath.Join(o.Root, o.Event)
	node := "node"
	peer := []string{node, filepath.Join(o.Root, "bench", "node-peer.js"), "--event", event}
	invoke := func(b string, env []string) (procRun, error) {
		m, err := runProc(ctx, []string{b, "invoke", "--event", event}, env, o.Root, `"mailer ready"`, "", scratch)
		if err == nil {
			err = m.sent("mailer invoke " + b)
		}
		return m, err
	}
	runPeer := func(env []string) (procRun, error) {
		p, err := runProc(ctx, peer, env, o.Root, "", "", scratch)
		if err == nil {
			err = p.sent("the Node peer")
		}
		return p, err
	}
	handler := func(p procRun) float64 {
		v, _ := p.Outcome["duration_ms"].(float64)
		return v
	}
	// One untimed round first (page cache).
	if _, err := invoke(bin, st.mailerEnv()); err != nil {
		return cs, err
	}
	if o.CompareBin != "" {
		if _, err := invoke(o.CompareBin, st.mailerEnv()); err != nil {
			return cs, err
		}
	}
	for i := 0; i < o.PeerRuns; i++ {
		if o.CompareBin != "" {
			m, err := invoke(o.CompareBin, st.mailerEnv())
			if err != nil {
				return cs, err
			}
			cs.OldReady, cs.OldHandled = append(cs.OldReady, msOf(m.Ready)), append(cs.OldHandled, msOf(m.Line))
			cs.OldCPU = append(cs.OldCPU, msOf(m.CPU))
		}
		m, err := invoke(bin, st.mailerEnv())
		if err != nil {
			return cs, err
		}
		cs.Ready, cs.Handled = append(cs.Ready, msOf(m.Ready)), append(cs.Handled, msOf(m.Line))
		cs.CPU = append(cs.CPU, msOf(m.CPU))
	}
	for i := 0; i < o.PeerRuns; i++ {
		if o.CompareBin != "" {
			m, err := invoke(o.CompareBin, st.withLatency(st.mailerEnv()))
			if err != nil {
				return cs, err
			}
			cs.OldLatHandled, cs.OldLatHandler = append(cs.OldLatHandled, msOf(m.Line)), append(cs.OldLatHandler, handler(m))
		}
		m, err := invoke(bin, st.withLatency(st.mailerEnv()))
		if err != nil {
			return cs, err
		}
		cs.LatHandled, cs.LatHandler = append(cs.LatHandled, msOf(m.Line)), append(cs.LatHandler, handler(m))
		if stages, ok := m.Outcome["stages"].(map[string]any); ok {
			if cs.Stages == nil {
				cs.Stages = map[string]Series{}
			}
			for k, v := range stages {
				if f, ok := v.(float64); ok {
					cs.Stages[k] = append(cs.Stages[k], f)
				}
			}
		}
		p, err := runPeer(st.withLatency(st.peerEnv()))
		if err != nil {
			return cs, err
		}
		cs.PeerLat, cs.PeerLatHandler = append(cs.PeerLat, msOf(p.Line)), append(cs.PeerLatHandler, handler(p))
	}
	for i := 0; i < o.PeerRuns; i++ {
		if o.CompareBin != "" {
			m, err := invoke(o.CompareBin, st.withExactLatency(st.mailerEnv()))
			if err != nil {
				return cs, err
			}
			cs.OldExactHandled = append(cs.OldExactHandled, msOf(m.Line))
		}
		m, err := invoke(bin, st.withExactLatency(st.mailerEnv()))
		if err != nil {
			return cs, err
		}
		cs.ExactHandled = append(cs.ExactHandled, msOf(m.Line))
		p, err := runPeer(st.withExactLatency(st.peerEnv()))
		if err != nil {
			return cs, err
		}
		cs.PeerExact = append(cs.PeerExact, msOf(p.Line))
	}
	if cs.FloorIdentity, cs.FloorSend, err = st.sesFloor(ctx, o.PeerRuns); err != nil {
		return cs, err
	}
	return cs, nil
}

// Summary is the figures as lines of text: median (min – max).
func (cs *ColdStart) Summary() []string {
	fu := func(name string, s Series, unit string) string {
		if len(s) == 0 {
			return ""
		}
		lo, hi := s.Range()
		return fmt.Sprintf("%-58s %8.2f %-3s (%.2f – %.2f, %d runs)", name, s.Median(), unit, lo, hi, len(s))
	}
	f := func(name string, s Series) string { return fu(name, s, "ms") }
	ratio := func(name string, a, b Series) string {
		if len(a) == 0 || len(b) == 0 || b.Median() == 0 {
			return ""
		}
		return fmt.Sprintf("%-58s %8.2f ×", name, a.Median()/b.Median())
	}
	ib := initSeries(cs.InitBefore, totalMS)
	ia := initSeries(cs.InitAfter, totalMS)
	ifl := initSeries(cs.InitFloor, totalMS)
	var out []string
	for _, l := range []string{
		f("old: process start → ready", cs.OldReady),
		f("new: process start → ready", cs.Ready),
		f("old: process start → first event handled", cs.OldHandled),
		f("new: process start → first event handled", cs.Handled),
		f("old: CPU time of the process (user + system)", cs.OldCPU),
		f("new: CPU time of the process (user + system)", cs.CPU),
		f("old, latency: process start → first event handled", cs.OldLatHandled),
		f("new, latency: process start → first event handled", cs.LatHandled),
		f("old, latency: handler alone", cs.OldLatHandler),
		f("new, latency: handler alone", cs.LatHandler),
		f("peer, latency: process start → first event handled", cs.PeerLat),
		f("peer, latency: handler alone", cs.PeerLatHandler),
		f(fmt.Sprintf("floor: GetEmailIdentity through the %v stand-in, warm client", SESLatency), cs.FloorIdentity),
		f(fmt.Sprintf("floor: SendEmail through the %v stand-in, warm client", SESLatency), cs.FloorSend),
		ratio("peer ÷ old, latency", cs.PeerLat, cs.OldLatHandled),
		ratio("peer ÷ new, latency", cs.PeerLat, cs.LatHandled),
		ratio("ceiling: peer ÷ (identity floor + send floor)", cs.PeerLat, sumSeries(cs.FloorIdentity, cs.FloorSend)),
		f("old, SES exactly: process start → first event handled", cs.OldExactHandled),
		f("new, SES exactly: process start → first event handled", cs.ExactHandled),
		f("peer, SES exactly: process start → first event handled", cs.PeerExact),
		ratio("peer ÷ old, SES exactly", cs.PeerExact, cs.OldExactHandled),
		ratio("peer ÷ new, SES exactly", cs.PeerExact, cs.ExactHandled),
		f("init "+InitBaseline, ib),
		f("init this tree", ia),
		f("init the libraries alone (initfloor)", ifl),
		ratio("init this tree ÷ "+InitBaseline, ia, ib),
		ratio("init the libraries alone ÷ "+InitBaseline, ifl, ib),
		fu("init "+InitBaseline+": MB allocated", initSeries(cs.InitBefore, mbAllocated), "MB"),
		fu("init this tree: MB allocated", initSeries(cs.InitAfter, mbAllocated), "MB"),
		fu("init the libraries alone: MB allocated", initSeries(cs.InitFloor, mbAllocated), "MB"),
		fu("init "+InitBaseline+": GC cycles", initSeries(cs.InitBefore, gcCycles), ""),
		fu("init this tree: GC cycles", initSeries(cs.InitAfter, gcCycles), ""),
		fu("init the libraries alone: GC cycles", initSeries(cs.InitFloor, gcCycles), ""),
	} {
		if l != "" {
			out = append(out, l)
		}
	}
	var names []string
	for k := range cs.Stages {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out = append(out, f("new, latency: stage "+k, cs.Stages[k]))
	}
	if len(cs.InitAfter) > 0 {
		for _, s := range topInit(cs.InitAfter, 15) {
			out = append(out, fmt.Sprintf("  init %-70s %6.3f ms", s.Package, s.MS))
		}
	}
	return out
}
