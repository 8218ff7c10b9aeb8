#!/usr/bin/env python3
"""tools/man.py: writes levee's man pages (roff, man(7)) from its own help text, so that they cannot
drift from it: levee(1) from `levee help`, and levee-COMMAND(1) from `levee help COMMAND` for every
command that `levee help` lists.

usage: tools/man.py --levee build/levee --out DIR [--date YYYY-MM-DD]

The help text's layout is what is read (src/cli/help.c writes it):
  usage: levee CMD ...          the SYNOPSIS; more forms start with spaces then "levee ",
         levee CMD ...          continuation lines are indented further
  paragraphs                    DESCRIPTION (an indented block inside one is a list when its lines
                                are "  TERM  description", literal text otherwise)
  Options: / Settings (...):    OPTIONS (a header line ending in ':' then a list indented by two)
  Commands:                     COMMANDS (levee(1) only)
  Exit status: ...              EXIT STATUS
  Example: / Examples:          EXAMPLES (the indented lines, as they are)
SEE ALSO names levee(1) or every levee-COMMAND(1), and the commands a page mentions. The date is
--date, else $SOURCE_DATE_EPOCH's (reproducible builds), else today's, in UTC. Exit status 0 when
every page was written, 1 when the help text is not in the expected form (the message says which
command and line), 2 for usage or I/O errors.
"""

import argparse
import datetime
import os
import re
import subprocess
import sys
import textwrap


class HelpError(Exception):
    """The help text of a command is not in the form this generator reads."""


def run_levee(levee, args):
    try:
        res = subprocess.run([levee] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, check=False)
    except OSError as e:
        raise OSError(f"cannot run {levee}: {e.strerror}") from e
    if res.returncode != 0:
        raise OSError(f"'{levee} {' '.join(args)}' exited with {res.returncode}: {res.stderr.strip()}")
    return res.stdout


# ---- roff ----

def esc(text):
    """Text for a roff text line: backslashes, minus signs (so options copy as ASCII), and a line that
    would start with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return text


def wrap(line, protect=True):
    """A text line as source lines of at most 80 bytes (mandoc's style), none starting with '.' or
    "'" (a request to roff)."""
    # \% keeps roff from hyphenating a word with a minus in it (an option, a page name): it must
    # read, and copy, as it is typed
    # (not in NAME, which whatis and lexgrog read)
    if protect:
        line = " ".join("\\%" + w if "\\-" in w and w != "\\-" and not w.startswith("\\%") else w
                        for w in line.split(" "))
    out = []
    for part in textwrap.wrap(line, width=79, break_long_words=False, break_on_hyphens=False):
        out.append("\\&" + part if part[0] in ".'" else part)
    return out


def text_lines(text):
    """A filled paragraph's source lines."""
    return wrap(esc(" ".join(text.split())))


def literal_lines(lines):
    """Lines for a no-fill block: spacing kept, nothing read as a request."""
    out = []
    for line in lines:
        line = esc(line.rstrip())
        out.append("\\&" + line if line else "")
    return [line for line in out if line]


TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|-{1,2}[A-Za-z0-9][\w-]*|[A-Za-z_][\w.]*|[^\sA-Za-z_'\"-]+|\S")


def styled(words):
    """Synopsis or option-term text: options and literal words bold, placeholders (PATH, ID, N)
    italic, punctuation and quoted text roman."""
    out = []
    for m in TOKEN.finditer(words):
        tok = m.group(0)
        space = " " if m.start() > 0 and words[m.start() - 1] == " " else ""
        if tok[0] in "'\"":
            piece = esc(tok).replace(" ", "\\ ")  # a quoted argument is not broken across lines
        elif not re.match(r"[-A-Za-z_]", tok):
            piece = esc(tok)
        elif re.fullmatch(r"[A-Z][A-Z0-9_]*", tok) and not tok.startswith("LEVEE_"):
            piece = "\\fI" + esc(tok) + "\\fR"
        else:
            piece = "\\fB" + esc(tok) + "\\fR"
        out.append(space + piece)
    return "".join(out)


# ---- reading the help text ----

def paragraphs(lines):
    """Blank-line separated groups of lines (the usage block is the first)."""
    groups, cur = [], []
    for line in lines:
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)
    return groups


def parse_usage(group, where):
    """The usage forms: 'usage: levee X ...', then forms that start with 'levee' under it, and
    continuation lines indented deeper than the form."""
    if not group[0].startswith("usage: "):
        raise HelpError(f"{where}: line 1 does not start with 'usage: ': {group[0]!r}")
    col = len("usage: ")
    forms = [group[0][col:].strip()]
    for line in group[1:]:
        indent = len(line) - len(line.lstrip())
        if indent == col and line.strip().startswith("levee"):
            forms.append(line.strip())
        elif indent > col:
            forms[-1] += " " + line.strip()
        else:
            raise HelpError(f"{where}: usage line {line!r} is neither a form (at column {col}) nor a "
                            "continuation (indented further)")
    return forms


def split_term(line, col):
    """'  --db PATH      the store' -> ('--db PATH', 'the store'): at the first run of two spaces, else
    (a term as long as the list's column, followed by one space) at the first space from col - 1."""
    m = re.match(r"\s*(\S(?:.*?\S)?) {2,}(\S.*)$", line)
    if m:
        return m.group(1), m.group(2)
    j = line.find(" ", col - 1) if col else -1
    if j > 0 and line[:j].strip():
        return line[:j].strip(), line[j:].strip()
    return line.strip(), ""


def parse_block(lines):
    """An indented block: a list of (term, description) when its lines are 'TERM  description' with
    deeper-indented continuations, else None (literal text)."""
    base = min(len(l) - len(l.lstrip()) for l in lines)
    starts = [l for l in lines if len(l) - len(l.lstrip()) == base]
    cols = {}
    for l in starts:
        m = re.match(r"(\s*\S(?:.*?\S)?) {2,}\S", l)
        if m:
            c = m.end() - 1
            cols[c] = cols.get(c, 0) + 1
    if not cols or sum(cols.values()) * 2 < len(starts):
        return None
    col = max(cols, key=lambda c: (cols[c], -c))
    items = []
    for l in lines:
        indent = len(l) - len(l.lstrip())
        if indent == base:
            term, desc = split_term(l, col)
            items.append([term, desc])
        else:
            items[-1][1] = (items[-1][1] + " " + l.strip()).strip()
    # A third column (serve's settings: flag, environment variable, description)
    if all(re.match(r"\S+ {2,}\S", d) for _, d in items):
        items = [[t, d.split(None, 1)[1], d.split(None, 1)[0]] for t, d in items]
    return items


def chunks(group):
    """A paragraph as text and indented blocks, in order: ('text', str) and ('block', [lines])."""
    out = []
    for line in group:
        kind = "block" if line.startswith(" ") else "text"
        if out and out[-1][0] == kind:
            out[-1][1].append(line)
        else:
            out.append((kind, [line]))
    return [(k, "\n".join(v) if k == "text" else v) for k, v in out]


def parse_help(text, where):
    """The help text as a dict of sections: synopsis (forms), description, options, commands,
    exit, examples; description and options as lists of ('text', str) / ('list', items) /
    ('literal', lines) / ('sub', title)."""
    groups = paragraphs(text.split("\n"))
    if not groups:
        raise HelpError(f"{where}: the help text is empty")
    page = {"synopsis": parse_usage(groups[0], where), "description": [], "options": [],
            "commands": [], "exit": "", "examples": []}
    for group in groups[1:]:
        # "Exit status:" may start a paragraph or a line inside one
        for i, line in enumerate(group):
            if line.startswith("Exit status:"):
                rest, group = group[i:], group[:i]
                page["exit"] = " ".join(l.strip() for l in rest)[len("Exit status:"):].strip()
                break
        if not group:
            continue
        # A header: unindented lines, the last ending in ':', then the indented lines it introduces
        head_end = next((i for i, l in enumerate(group) if l.startswith(" ")), len(group))
        header = " ".join(group[:head_end]) if head_end < len(group) and group[head_end - 1].endswith(":") \
            else None
        if header and head_end > 0:
            body = group[head_end:]
            if header in ("Example:", "Examples:"):
                if any(not l.startswith(" ") for l in body):
                    raise HelpError(f"{where}: an unindented line among the examples: {body!r}")
                page["examples"] = body
                continue
            if header == "Commands:":
                items = parse_block(body)
                if not items:
                    raise HelpError(f"{where}: the Commands: list is not 'NAME  description' lines")
                page["commands"] = [(t, d) for t, d, *_ in items]
                continue
            if header.startswith(("Options", "Settings")):
                target = page["options"]
                if header != "Options:":
                    if len(header.split()) <= 5:
                        target.append(("sub", header.rstrip(":")))
                    else:
                        target.append(("text", header))
                for kind, part in chunks(body):
                    target.append(to_part(kind, part))
                continue
        for kind, part in chunks(group):
            page["description"].append(to_part(kind, part))
    return page


def to_part(kind, part):
    if kind == "text":
        return ("text", part)
    items = parse_block(part)
    return ("list", items) if items else ("literal", part)


# ---- writing a page ----

def paragraph(out):
    """.PP, unless the section or subsection has just started (mandoc: 'PP after SH')."""
    if not out[-1].startswith((".SH", ".SS")):
        out.append(".PP")


def render_parts(parts, out):
    for kind, val in parts:
        if kind == "sub":
            out.append(".SS " + val.replace('"', ""))
        elif kind == "text":
            paragraph(out)
            out.extend(text_lines(val))
        elif kind == "literal":
            paragraph(out)
            out.append(".RS")
            out.append(".EX")
            out.extend(literal_lines(val))
            out.append(".EE")
            out.append(".RE")
        else:
            for item in val:
                out.append(".TP")
                term = styled(item[0])
                if len(item) == 3:
                    term += ", \\fB" + esc(item[2]) + "\\fR"
                out.extend(wrap(term))
                out.extend(text_lines(item[1]) or ["\\&"])


def mentioned(text, commands, own):
    """The commands a help text names as 'levee CMD' or 'levee help CMD', other than its own."""
    found = []
    for m in re.finditer(r"\blevee (?:help )?([a-z]+)\b", " ".join(text.split())):
        cmd = m.group(1)
        if cmd in commands and cmd != own and cmd not in found:
            found.append(cmd)
    return found


def write_page(name, summary, page, date, version, see_also, out_dir):
    title = name.upper()
    out = [f'.\\" {name}.1: generated by tools/man.py from `levee help'
           + (f' {name[len("levee-"):]}' if name != "levee" else "") + "`; do not edit.",
           f'.TH {title} 1 {date} "levee {version}" "levee manual"',
           ".SH NAME",
           *wrap(f"{esc(name)} \\- {esc(summary)}", protect=False),
           ".SH SYNOPSIS"]
    for form in page["synopsis"]:
        words = form.split(None, 1)
        cmd = esc(words[0])
        rest = words[1] if len(words) > 1 else ""
        # the command itself (levee, or levee and its command, as one word) then its arguments
        m = re.match(r"([a-z][a-z-]*)\s*(.*)", rest)
        if name != "levee" and m:
            cmd += "\\ " + esc(m.group(1))
            rest = m.group(2)
        out.append(".SY " + cmd)
        if rest:
            out.extend(wrap(styled(rest)))
        out.append(".YS")
    if page["description"]:
        out.append(".SH DESCRIPTION")
        render_parts(page["description"], out)
    if page["commands"]:
        out.append(".SH COMMANDS")
        for cmd, desc in page["commands"]:
            out.append(".TP")
            out.append("\\fB" + esc(cmd) + "\\fR")
            out.extend(text_lines(desc))
            out.append(".br")
            out.append(f"See \\fBlevee\\-{esc(cmd)}\\fR(1).")
    if page["options"]:
        out.append(".SH OPTIONS")
        render_parts(page["options"], out)
    if page["exit"]:
        out.append(".SH EXIT STATUS")
        out.extend(text_lines(page["exit"]))
    if page["examples"]:
        out.append(".SH EXAMPLES")
        out.append(".RS")
        out.append(".EX")
        base = min(len(l) - len(l.lstrip()) for l in page["examples"])
        out.extend(literal_lines([l[base:] for l in page["examples"]]))
        out.append(".EE")
        out.append(".RE")
    out.append(".SH SEE ALSO")
    out.append(",\n".join(f"\\fB{esc(s)}\\fR(1)" for s in see_also))
    path = os.path.join(out_dir, name + ".1")
    tmp = f"{path}.{os.getpid()}.tmp"  # per process: two makes may write the pages at once
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, path)
    return path


def page_date(arg):
    if arg:
        return arg
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch \
        else datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%d")


def main():
    ap = argparse.ArgumentParser(description="levee's man pages from its help text")
    ap.add_argument("--levee", required=True, help="the levee program")
    ap.add_argument("--out", required=True, help="the directory to write levee.1 and levee-*.1 into")
    ap.add_argument("--date", help="the date on the pages (default: $SOURCE_DATE_EPOCH, else today)")
    args = ap.parse_args()
    try:
        if args.date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.date):
            raise ValueError(f"--date {args.date!r} is not YYYY-MM-DD")
        date = page_date(args.date)
        version = run_levee(args.levee, ["--version"]).strip().split()[-1]
        top_text = run_levee(args.levee, ["help"])
        top = parse_help(top_text, "levee help")
        if not top["commands"]:
            raise HelpError("levee help: no 'Commands:' list")
        commands = [c for c, _ in top["commands"]]
        os.makedirs(args.out, exist_ok=True)
        first = top["description"][0][1] if top["description"] and top["description"][0][0] == "text" \
            else ""
        m = re.match(r"levee is (.*?)(?:,|\.\s|$)", first.replace("\n", " "))
        if not m:
            raise HelpError("levee help: the first paragraph does not say 'levee is ...', which NAME "
                            "is made from")
        written = [write_page("levee", m.group(1), top, date, version,
                              [f"levee-{c}" for c in commands], args.out)]
        for cmd, summary in top["commands"]:
            text = run_levee(args.levee, ["help", cmd])
            page = parse_help(text, f"levee help {cmd}")
            see = ["levee"] + [f"levee-{c}" for c in mentioned(text, commands, cmd)]
            written.append(write_page(f"levee-{cmd}", summary, page, date, version, see, args.out))
    except HelpError as e:
        print(f"man.py: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"man.py: {e}", file=sys.stderr)
        return 2
    # Pages of commands that no longer exist are removed, so installing the directory is exact.
    keep = {os.path.basename(p) for p in written}
    for old in os.listdir(args.out):
        if old.endswith(".1") and old not in keep:
            os.remove(os.path.join(args.out, old))
    print(f"man.py: wrote {len(written)} pages into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
