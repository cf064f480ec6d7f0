// Package manpage renders a man page's roff source as plain text, for hosts
// without a `man` program. It knows the man(7) macros Nix's pages use
// (lowdown's output: .TH .SH .SS .PP .LP .IP .TP .RS .RE .EX .EE .nf .fi
// .UR .UE .B .I .br .sp) and drops the rest; it fills paragraphs to a fixed
// width. It is a fallback, not a typesetter.
package manpage

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Width is the column text is filled to.
const Width = 78

// renderer holds the state of one page being rendered.
type renderer struct {
	out      *strings.Builder
	indent   int      // left margin of body text
	rsStack  []int    // margins saved by .RS
	words    []string // the paragraph being filled
	first    string   // prefix of the paragraph's first line (a bullet, a tag)
	hang     int      // margin of the paragraph's later lines
	noFill   bool     // inside .EX/.nf
	heading  bool     // nothing written since the last heading
	tagNext  bool     // .TP: the next text line is the tag
	joinNext bool     // the previous text line ended in \c
}

// Render reads roff from r and returns the page as text.
func Render(r io.Reader) (string, error) {
	var b strings.Builder
	p := &renderer{out: &b, indent: 7, hang: 7}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		p.line(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading man page: %w", err)
	}
	p.flush()
	return strings.TrimLeft(b.String(), "\n"), nil
}

func (p *renderer) line(l string) {
	if strings.HasPrefix(l, `.\"`) || strings.HasPrefix(l, `'\"`) {
		return
	}
	if !strings.HasPrefix(l, ".") && !strings.HasPrefix(l, "'") {
		p.text(l)
		return
	}
	name, arg, _ := strings.Cut(strings.TrimSpace(l[1:]), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "TH":
		if args := splitArgs(arg); len(args) >= 2 {
			p.out.WriteString(fmt.Sprintf("%s(%s)\n", strings.ToUpper(args[0]), args[1]))
		}
	case "SH":
		p.flush()
		p.indent, p.hang, p.rsStack = 7, 7, nil
		p.out.WriteString("\n" + strings.ToUpper(inline(strings.Join(splitArgs(arg), " "))) + "\n")
		p.heading = true
	case "SS":
		p.flush()
		p.indent, p.hang = 7, 7
		p.out.WriteString("\n   " + inline(strings.Join(splitArgs(arg), " ")) + "\n")
		p.heading = true
	case "PP", "LP", "P":
		p.paragraph()
		p.hang = p.indent
	case "IP":
		p.paragraph()
		p.hang = p.indent + 3
		if tag := inline(firstArg(arg)); tag != "" {
			p.first = tag
		}
	case "TP":
		p.paragraph()
		p.hang = p.indent + 7
		p.tagNext = true
	case "RS":
		p.flush()
		p.rsStack = append(p.rsStack, p.indent)
		p.indent = p.hang + 4
		p.hang = p.indent
	case "RE":
		p.flush()
		if n := len(p.rsStack); n > 0 {
			p.indent = p.rsStack[n-1]
			p.rsStack = p.rsStack[:n-1]
		}
		p.hang = p.indent
	case "EX", "nf", "Vb":
		p.flush()
		p.noFill = true
	case "EE", "fi", "Ve":
		p.noFill = false
	case "br":
		p.flush()
	case "sp", "Sp":
		p.flush()
		p.out.WriteString("\n")
	case "B", "I", "SM", "BR", "IR", "RB", "RI", "BI", "IB":
		if arg != "" {
			p.text(strings.Join(splitArgs(arg), ""))
		}
	case "UE":
		if strings.HasSuffix(arg, `\c`) {
			p.joinNext = true
		}
	}
	// Everything else (.UR, .PD, .ne, .ft, conditionals, ...) changes
	// nothing a plain-text reader needs.
}

// paragraph ends the current paragraph with a blank line.
func (p *renderer) paragraph() {
	p.flush()
	if !p.heading && !strings.HasSuffix(p.out.String(), "\n\n") {
		p.out.WriteString("\n")
	}
}

func (p *renderer) text(l string) {
	t := inline(l)
	if p.tagNext {
		p.tagNext = false
		p.first = t
		return
	}
	if p.noFill {
		p.heading = false
		p.out.WriteString(strings.Repeat(" ", p.hang) + t + "\n")
		return
	}
	join := p.joinNext
	// \c continues the line without a break; a space before it stays.
	p.joinNext = strings.HasSuffix(l, `\c`) && !strings.HasSuffix(l, ` \c`)
	fields := strings.Fields(t)
	if len(fields) == 0 {
		return
	}
	if join && len(p.words) > 0 {
		p.words[len(p.words)-1] += fields[0]
		fields = fields[1:]
	}
	p.words = append(p.words, fields...)
}

// flush writes the paragraph being filled.
func (p *renderer) flush() {
	if len(p.words) == 0 && p.first == "" {
		return
	}
	margin := p.hang
	line := strings.Repeat(" ", p.indent)
	if p.first != "" {
		line += p.first
		if n := utf8.RuneCountInString(line); n < margin {
			line += strings.Repeat(" ", margin-n)
		} else {
			p.out.WriteString(line + "\n")
			line = strings.Repeat(" ", margin)
		}
	} else {
		line = strings.Repeat(" ", margin)
	}
	empty := true
	for _, w := range p.words {
		if !empty && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > Width {
			p.out.WriteString(line + "\n")
			line, empty = strings.Repeat(" ", margin), true
		}
		if !empty {
			line += " "
		}
		line += w
		empty = false
	}
	p.out.WriteString(strings.TrimRight(line, " ") + "\n")
	p.words, p.first, p.heading = nil, "", false
}

// escapes are the roff escapes Nix's pages use, as text.
var escapes = strings.NewReplacer(
	`\(bu`, "•", `\(em`, "—", `\(en`, "–", `\(lq`, "“", `\(rq`, "”",
	`\(aq`, "'", `\(dq`, `"`, `\(cq`, "'", `\(oq`, "'", `\(ga`, "`", `\(ti`, "~",
	`\(ha`, "^", `\(rs`, `\`, `\(->`, "→", `\(<-`, "←", `\(mu`, "×", `\(co`, "©",
	`\-`, "-", `\&`, "", `\e`, `\`, `\ `, " ", `\~`, " ", `\0`, " ", `\|`, "", `\^`, "",
	`\c`, "", `\%`, "", `\fB`, "", `\fI`, "", `\fR`, "", `\fP`, "", `\f(CR`, "",
	`\f(CW`, "", `\f(CB`, "", `\f(BI`, "", `\fC`, "", `\fM`, "", `\*(lq`, "“", `\*(rq`, "”",
	`\*R`, "®", `\*(Tm`, "™",
)

// inline resolves the escapes in one line of text.
func inline(s string) string {
	s = escapes.Replace(s)
	// Drop any font or size change the table does not know.
	for _, pre := range []string{`\f[`, `\s`} {
		for {
			i := strings.Index(s, pre)
			if i < 0 {
				break
			}
			end := i + len(pre)
			if pre == `\f[` {
				if j := strings.Index(s[end:], "]"); j >= 0 {
					end += j + 1
				}
			} else {
				for end < len(s) && (s[end] == '+' || s[end] == '-' || s[end] >= '0' && s[end] <= '9') {
					end++
				}
			}
			s = s[:i] + s[end:]
		}
	}
	return s
}

func firstArg(s string) string {
	args := splitArgs(s)
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// splitArgs splits a macro's arguments, honouring double quotes.
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	quoted, started := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, started = !quoted, true
		case r == ' ' && !quoted:
			if started {
				args = append(args, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if started {
		args = append(args, cur.String())
	}
	return args
}
