package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// A chart is one panel of grouped bars: one group per scenario, one bar
// per broker configuration (series). A value that is NaN is not drawn.
type chart struct {
	Title string
	Unit  string
	Log   bool
	// Groups label the x axis; Values[g][s] is series s in group g.
	Groups []string
	Values [][]float64
	// Low and High, if set, draw a whisker from Low to High over each bar
	// (used for latency percentiles), with a dot at Mid.
	Low, Mid, High [][]float64
	Note           string
}

// seriesStyle is a series' name and colour.
type seriesStyle struct {
	Name, Color string
}

// svgPlot draws charts in a grid with a shared legend.
type svgPlot struct {
	b       strings.Builder
	W, H    float64
	series  []seriesStyle
	title   string
	caption string
}

const (
	panelW  = 620.0
	panelH  = 400.0
	legendH = 40.0
	headH   = 50.0
)

// renderSVG lays out charts two per row under a title and legend.
func renderSVG(title, caption string, series []seriesStyle, charts []chart) string {
	rows := (len(charts) + 1) / 2
	p := &svgPlot{W: 2 * panelW, H: headH + legendH + float64(rows)*panelH + 30, series: series, title: title, caption: caption}
	fmt.Fprintf(&p.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`+"\n",
		p.W, p.H, p.W, p.H)
	fmt.Fprintf(&p.b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	p.text(p.W/2, 30, 20, "middle", "bold", title)
	// Legend.
	x := 40.0
	for _, s := range series {
		fmt.Fprintf(&p.b, `<rect x="%.1f" y="%.1f" width="16" height="16" fill="%s"/>`+"\n", x, headH+8, s.Color)
		p.text(x+22, headH+21, 14, "start", "", s.Name)
		x += 22 + 8.2*float64(len(s.Name)) + 30
	}
	for i, c := range charts {
		px := float64(i%2) * panelW
		py := headH + legendH + float64(i/2)*panelH
		p.chart(c, px, py)
	}
	p.text(p.W/2, p.H-10, 12, "middle", "", caption)
	p.b.WriteString("</svg>\n")
	return p.b.String()
}

func (p *svgPlot) text(x, y, size float64, anchor, weight, s string) {
	w := ""
	if weight != "" {
		w = fmt.Sprintf(` font-weight="%s"`, weight)
	}
	fmt.Fprintf(&p.b, `<text x="%.1f" y="%.1f" font-size="%.0f" text-anchor="%s"%s>%s</text>`+"\n",
		x, y, size, anchor, w, html.EscapeString(s))
}

// axis maps values to the plot's vertical extent.
type axis struct {
	log      bool
	min, max float64
	top, bot float64
}

func (a axis) y(v float64) float64 {
	if a.log {
		v = math.Log10(math.Max(v, a.min))
		return a.bot - (v-math.Log10(a.min))/(math.Log10(a.max)-math.Log10(a.min))*(a.bot-a.top)
	}
	return a.bot - (v-a.min)/(a.max-a.min)*(a.bot-a.top)
}

// ticks returns the axis's tick values.
func (a axis) ticks() []float64 {
	var t []float64
	if a.log {
		for v := a.min; v <= a.max*1.0001; v *= 10 {
			t = append(t, v)
		}
		return t
	}
	step := niceStep(a.max / 5)
	for v := 0.0; v <= a.max*1.0001; v += step {
		t = append(t, v)
	}
	return t
}

func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= x {
			return m * e
		}
	}
	return 10 * e
}

// human formats v compactly: 1234 → 1.23k.
func human(v float64) string {
	av := math.Abs(v)
	switch {
	case av >= 1e6:
		return trimZeros(fmt.Sprintf("%.3g", v/1e6)) + "M"
	case av >= 1e4:
		return trimZeros(fmt.Sprintf("%.3g", v/1e3)) + "k"
	case av >= 100:
		return fmt.Sprintf("%.0f", v)
	case av >= 10:
		return trimZeros(fmt.Sprintf("%.1f", v))
	case av >= 1:
		return trimZeros(fmt.Sprintf("%.2f", v))
	case av == 0:
		return "0"
	}
	return trimZeros(fmt.Sprintf("%.2g", v))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") && !strings.ContainsAny(s, "e") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func (p *svgPlot) chart(c chart, px, py float64) {
	left, right := px+80, px+panelW-20
	top, bot := py+40, py+panelH-70
	p.text(px+panelW/2, py+22, 16, "middle", "bold", c.Title)

	// Value range.
	lo, hi := math.Inf(1), math.Inf(-1)
	consider := func(vs [][]float64) {
		for _, g := range vs {
			for _, v := range g {
				if !math.IsNaN(v) && v > 0 {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
	}
	consider(c.Values)
	consider(c.High)
	if math.IsInf(hi, -1) {
		p.text(px+panelW/2, py+panelH/2, 14, "middle", "", "no data")
		return
	}
	a := axis{log: c.Log, top: top, bot: bot}
	if c.Log {
		a.min = math.Pow(10, math.Floor(math.Log10(lo)))
		a.max = math.Pow(10, math.Ceil(math.Log10(hi*1.5)))
	} else {
		a.min = 0
		a.max = niceStep(hi*1.15/5) * 5
	}
	// Grid and ticks.
	for _, t := range a.ticks() {
		y := a.y(t)
		fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, right, y)
		p.text(left-6, y+4, 12, "end", "", human(t))
	}
	fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", left, bot, right, bot)
	fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", left, top, left, bot)
	unit := c.Unit
	if c.Log {
		unit += " (log scale)"
	}
	fmt.Fprintf(&p.b, `<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		px+18, (top+bot)/2, px+18, (top+bot)/2, html.EscapeString(unit))

	// Bars.
	ng := len(c.Groups)
	gw := (right - left) / float64(ng)
	ns := len(p.series)
	bw := math.Min(34, gw*0.8/float64(ns))
	for g, label := range c.Groups {
		// Only the series measured in this group get a slot.
		var present []int
		for s := 0; s < ns && s < len(c.Values[g]); s++ {
			if !math.IsNaN(c.Values[g][s]) {
				present = append(present, s)
			}
		}
		gx := left + gw*float64(g) + (gw-bw*float64(len(present)))/2
		for slot, s := range present {
			v := c.Values[g][s]
			x := gx + bw*float64(slot)
			y := a.y(v)
			fmt.Fprintf(&p.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s %s</title></rect>`+"\n",
				x+1, y, bw-2, math.Max(bot-y, 0.5), p.series[s].Color, html.EscapeString(p.series[s].Name), human(v), html.EscapeString(c.Unit))
			labelY := y - 4
			if c.High != nil && !math.IsNaN(c.High[g][s]) {
				cx := x + bw/2
				yl, yh := a.y(c.Low[g][s]), a.y(c.High[g][s])
				fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222" stroke-width="1.5"/>`+"\n", cx, yl, cx, yh)
				fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222" stroke-width="1.5"/>`+"\n", cx-bw/4, yh, cx+bw/4, yh)
				if c.Mid != nil && !math.IsNaN(c.Mid[g][s]) {
					fmt.Fprintf(&p.b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="#222"/>`+"\n", cx, a.y(c.Mid[g][s]))
				}
				labelY = math.Min(labelY, yh-4)
			}
			// Value label, vertical so that narrow bars keep it legible.
			fmt.Fprintf(&p.b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="start" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
				x+bw/2+4, labelY, x+bw/2+4, labelY, html.EscapeString(human(v)))
		}
		lines := strings.Split(label, "\n")
		for i, l := range lines {
			p.text(left+gw*(float64(g)+0.5), bot+18+14*float64(i), 12, "middle", "", l)
		}
	}
	if c.Note != "" {
		p.text(px+panelW/2, py+panelH-12, 11, "middle", "", c.Note)
	}
}
