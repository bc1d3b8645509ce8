package benchrun

import (
	"math"
	"sort"
	"time"
)

// Median of v (0 for none).
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// MinMax of v (0, 0 for none).
func MinMax(v []float64) (lo, hi float64) {
	if len(v) == 0 {
		return 0, 0
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// Series is repeated measurements of one figure.
type Series []float64

// Median of the series.
func (s Series) Median() float64 { return Median(s) }

// Range is its minimum and maximum.
func (s Series) Range() (float64, float64) { return MinMax(s) }

func msOf(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// sumSeries adds a and b run by run (the i-th of each), as many runs as the
// shorter has.
func sumSeries(a, b Series) Series {
	n := min(len(a), len(b))
	out := make(Series, n)
	for i := range n {
		out[i] = a[i] + b[i]
	}
	return out
}
