// Package readme extracts the walkthroughs of README.md, so that a test can run them: the
// README cannot drift from the code.
//
// A walkthrough is a fenced block whose info string is "bash walkthrough", optionally followed
// by tags (e.g. "bash walkthrough postgres" needs a PostgreSQL server). Other blocks are
// illustrations and are not run, so other sections may add any block they like.
package readme

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Walkthrough is one runnable block of the README.
type Walkthrough struct {
	// Line is the line of the opening fence, 1-based.
	Line int
	// Heading is the closest heading above the block.
	Heading string
	// Tags are the words after "bash walkthrough" in the info string.
	Tags []string
	// Script is the block's text.
	Script string
}

// HasTag tells whether the walkthrough carries tag.
func (w Walkthrough) HasTag(tag string) bool {
	for _, t := range w.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Parse returns the walkthroughs of a Markdown document, in order.
func Parse(r io.Reader) ([]Walkthrough, error) {
	var (
		out     []Walkthrough
		heading string
		cur     *Walkthrough
		fence   string
		body    strings.Builder
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`~") == "" {
				if cur != nil {
					cur.Script = body.String()
					out = append(out, *cur)
				}
				fence, cur = "", nil
				body.Reset()
				continue
			}
			if cur != nil {
				body.WriteString(line)
				body.WriteByte('\n')
			}
		case strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~"):
			fence = trimmed[:3]
			info := strings.Fields(strings.TrimLeft(trimmed, "`~"))
			if len(info) >= 2 && info[0] == "bash" && info[1] == "walkthrough" {
				cur = &Walkthrough{Line: n, Heading: heading, Tags: info[2:]}
			}
		case strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if fence != "" {
		return nil, fmt.Errorf("readme: a fenced block is not closed")
	}
	return out, nil
}
