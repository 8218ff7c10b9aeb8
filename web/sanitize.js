// sanitize.js: turns HTML written by Canvas users (discussion entries, topic bodies) into DOM nodes that
// are safe to show, and into plain text for previews. The HTML is never handed to the browser's parser
// (no innerHTML, no DOMParser: those would also trip the page's Content-Security-Policy on every style
// attribute); a small tokenizer reads it, and only allowlisted elements and attributes are rebuilt with
// createElement, setAttribute and text nodes. Links survive only to http, https and mailto. A tokenizing
// mistake can only change how a post looks, never what runs: nothing outside the allowlist is created.

// element name -> attributes kept on it
const ALLOWED = new Map(Object.entries({
  p: [], br: [], hr: [], div: [], span: [],
  b: [], strong: [], i: [], em: [], u: [], s: [], strike: [], del: [], ins: [], mark: [], small: [], sub: [], sup: [],
  code: [], pre: [], kbd: [], samp: [], blockquote: [], q: [], cite: [], abbr: ['title'],
  ul: [], ol: ['start'], li: [], dl: [], dt: [], dd: [],
  table: [], caption: [], thead: [], tbody: [], tfoot: [], tr: [], th: ['colspan', 'rowspan'], td: ['colspan', 'rowspan'],
  figure: [], figcaption: [],
  a: ['href', 'title'],
}));

// elements dropped together with everything inside them
const DROPPED = new Set([
  'script', 'style', 'template', 'noscript', 'head', 'title', 'iframe', 'frame', 'frameset', 'object', 'applet',
  'svg', 'math', 'textarea', 'select', 'button', 'canvas', 'map', 'noembed', 'noframes', 'xmp', 'portal', 'video', 'audio',
]);

// elements whose content is raw text up to their end tag (the tokenizer skips it)
const RAW_TEXT = new Set(['script', 'style', 'textarea', 'title', 'xmp', 'iframe', 'noembed', 'noframes', 'noscript', 'plaintext']);

// elements that never have content
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr']);

// shown as a plain link to their source: images would be refused by the page's Content-Security-Policy,
// and players must not run here
const MEDIA = new Set(['img', 'video', 'audio', 'embed']);

// user headings must not outrank the page's own headings: they become bold paragraphs
const HEADINGS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);

// a new block closes an open paragraph, as HTML's parser does
const CLOSES_P = new Set(['p', 'div', 'ul', 'ol', 'dl', 'blockquote', 'pre', 'table', 'hr', 'figure', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6']);

// text breaks between these in previews
const BLOCK = new Set([...CLOSES_P, 'br', 'li', 'dt', 'dd', 'tr', 'td', 'th', 'caption', 'figcaption']);

const MAX_DEPTH = 40;

// ---- character references ----

const LATIN1 = ('nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute '
  + 'micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil '
  + 'Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute '
  + 'Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute '
  + 'icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml').split(' ');
const ENTITIES = new Map(LATIN1.map((name, i) => [name, String.fromCharCode(160 + i)]));
for (const [name, code] of Object.entries({
  amp: 38, lt: 60, gt: 62, quot: 34, apos: 39, OElig: 338, oelig: 339, Scaron: 352, scaron: 353, Yuml: 376, fnof: 402,
  circ: 710, tilde: 732, ensp: 8194, emsp: 8195, thinsp: 8201, zwnj: 8204, zwj: 8205, lrm: 8206, rlm: 8207, ndash: 8211,
  mdash: 8212, lsquo: 8216, rsquo: 8217, sbquo: 8218, ldquo: 8220, rdquo: 8221, bdquo: 8222, dagger: 8224, Dagger: 8225,
  bull: 8226, hellip: 8230, permil: 8240, prime: 8242, Prime: 8243, lsaquo: 8249, rsaquo: 8250, oline: 8254, euro: 8364,
  trade: 8482, larr: 8592, uarr: 8593, rarr: 8594, darr: 8595, harr: 8596, minus: 8722, le: 8804, ge: 8805, ne: 8800,
  asymp: 8776, infin: 8734, pi: 960, alpha: 945, beta: 946, gamma: 947, delta: 948, mu: 956, sigma: 963, Omega: 937,
})) ENTITIES.set(name, String.fromCodePoint(code));
const LEGACY = new Set(['amp', 'lt', 'gt', 'quot', 'nbsp']); // recognised without their semicolon, as browsers do

/** Text with its character references (&amp; &#233; &#xE9; &eacute;) replaced by the characters. */
export function decodeEntities(text) {
  if (!text.includes('&')) return text;
  return text.replace(/&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,7}|[A-Za-z][A-Za-z0-9]{0,31})(;?)/g, (m, ref, semi) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\uFFFD';
      return String.fromCodePoint(code);
    }
    const ch = ENTITIES.get(ref);
    return ch !== undefined && (semi || LEGACY.has(ref)) ? ch : m;
  });
}

// ---- the tokenizer ----

const TAG_NAME = /[A-Za-z][^\s/>]*/y;
const SPACE = /[\s/]*/y;
const ATTR_NAME = /[^\s/>=][^\s/>=]*/y;
const EQUALS = /\s*=\s*/y;
const UNQUOTED = /[^\s>]*/y;

function at(re, text, index) {
  re.lastIndex = index;
  const m = re.exec(text);
  return m ? m[0] : '';
}

/**
 * Calls emit for each token of the HTML: {type: 'text', text} (references decoded),
 * {type: 'start', name, attrs: Map, selfClosing} or {type: 'end', name}. Comments, doctypes and
 * processing instructions are skipped; the content of raw-text elements (script, style, ...) too.
 */
function tokenize(html, emit) {
  const n = html.length;
  let i = 0;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      emit({ type: 'text', text: decodeEntities(html.slice(i)) });
      return;
    }
    if (lt > i) emit({ type: 'text', text: decodeEntities(html.slice(i, lt)) });
    const next = html[lt + 1];
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end < 0 ? n : end + 3;
    } else if (next === '!' || next === '?') {
      const end = html.indexOf('>', lt + 2);
      i = end < 0 ? n : end + 1;
    } else if (next === '/') {
      const name = at(TAG_NAME, html, lt + 2);
      const end = html.indexOf('>', lt + 2);
      if (end < 0) return; // a tag cut off by the end of the text is dropped
      if (name) emit({ type: 'end', name: name.toLowerCase() });
      i = end + 1;
    } else if (next && /[A-Za-z]/.test(next)) {
      const name = at(TAG_NAME, html, lt + 1).toLowerCase();
      let j = lt + 1 + name.length;
      const attrs = new Map();
      let closed = false;
      let selfClosing = false;
      while (j < n) {
        const space = at(SPACE, html, j);
        selfClosing = space.endsWith('/');
        j += space.length;
        if (html[j] === '>') {
          closed = true;
          j++;
          break;
        }
        const attr = at(ATTR_NAME, html, j) || html[j];
        j += attr.length;
        let value = '';
        const eq = at(EQUALS, html, j);
        if (eq) {
          j += eq.length;
          const quote = html[j];
          if (quote === '"' || quote === "'") {
            const end = html.indexOf(quote, j + 1);
            if (end < 0) {
              j = n;
              break;
            }
            value = html.slice(j + 1, end);
            j = end + 1;
          } else {
            value = at(UNQUOTED, html, j);
            j += value.length;
          }
        }
        const key = attr.toLowerCase();
        if (!attrs.has(key)) attrs.set(key, decodeEntities(value));
      }
      if (!closed) return; // a tag cut off by the end of the text is dropped
      emit({ type: 'start', name, attrs, selfClosing });
      i = j;
      if (RAW_TEXT.has(name) && !selfClosing) {
        if (name === 'plaintext') return;
        const close = new RegExp(`</${name}[\\s/>]`, 'ig');
        close.lastIndex = i;
        const m = close.exec(html);
        if (!m) return;
        const end = html.indexOf('>', m.index);
        emit({ type: 'end', name });
        i = end < 0 ? n : end + 1;
      }
    } else {
      emit({ type: 'text', text: '<' });
      i = lt + 1;
    }
  }
}

// ---- safe nodes ----

/** The URL if it is absolute and http, https or mailto; otherwise null. */
export function safeUrl(value) {
  if (typeof value !== 'string') return null;
  let url;
  try {
    url = new URL(value.trim());
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'mailto:' ? url.href : null;
}

function smallNumber(value, max) {
  return /^\d{1,3}$/.test(value) && Number(value) >= 1 && Number(value) <= max ? value : null;
}

function safeElement(name, attrs) {
  const el = document.createElement(name);
  for (const attr of ALLOWED.get(name)) {
    const value = attrs.get(attr);
    if (value === undefined) continue;
    if (attr === 'href') {
      const url = safeUrl(value);
      if (url) el.setAttribute('href', url);
    } else if (attr === 'colspan' || attr === 'rowspan' || attr === 'start') {
      const number = smallNumber(value, attr === 'start' ? 999 : 50);
      if (number) el.setAttribute(attr, number);
    } else {
      el.setAttribute(attr, value.slice(0, 300));
    }
  }
  if (name === 'a' && el.hasAttribute('href')) {
    el.setAttribute('rel', 'noopener noreferrer nofollow');
    el.setAttribute('target', '_blank');
  }
  return el;
}

function mediaLabel(name, attrs) {
  const alt = (attrs.get('alt') || attrs.get('title') || '').trim().slice(0, 200);
  return `[${name === 'img' ? 'image' : name}${alt ? `: ${alt}` : ''}]`;
}

function mediaNode(name, attrs) {
  const label = mediaLabel(name, attrs);
  const src = safeUrl(attrs.get('src') ?? '');
  if (!src) return document.createTextNode(label);
  const a = document.createElement('a');
  a.setAttribute('href', src);
  a.setAttribute('rel', 'noopener noreferrer nofollow');
  a.setAttribute('target', '_blank');
  a.className = 'media-link';
  a.textContent = label;
  return a;
}

/** A DocumentFragment of safe nodes showing the given user HTML. */
export function sanitizeHtml(html) {
  const root = document.createDocumentFragment();
  if (typeof html !== 'string' || html === '') return root;
  // open elements; an entry whose el is its parent's is transparent (its children go to the parent)
  const stack = [{ name: '#root', el: root }];
  let skip = null; // inside a dropped element: {name, depth}
  const top = () => stack[stack.length - 1];
  const closeTo = (index) => { stack.length = index; };
  const findOpen = (names, stopAt) => {
    for (let k = stack.length - 1; k > 0; k--) {
      if (names.has(stack[k].name)) return k;
      if (stopAt.has(stack[k].name)) return -1;
    }
    return -1;
  };
  const P = new Set(['p']);
  const P_STOP = new Set(['td', 'th', 'caption', 'table']);
  const LIST = new Set(['ul', 'ol']);
  const LI = new Set(['li']);
  const DEF = new Set(['dt', 'dd']);
  const DL = new Set(['dl']);
  const CELL = new Set(['td', 'th']);
  const ROW = new Set(['tr']);
  const ROW_STOP = new Set(['table', 'thead', 'tbody', 'tfoot']);
  const CELL_STOP = new Set(['tr', 'table']);
  tokenize(html, (tok) => {
    if (skip) {
      if (tok.type === 'start' && tok.name === skip.name && !tok.selfClosing) skip.depth++;
      else if (tok.type === 'end' && tok.name === skip.name && --skip.depth === 0) skip = null;
      return;
    }
    if (tok.type === 'text') {
      if (tok.text) top().el.append(document.createTextNode(tok.text));
      return;
    }
    const { name } = tok;
    if (tok.type === 'end') {
      for (let k = stack.length - 1; k > 0; k--) {
        if (stack[k].name === name) {
          closeTo(k);
          break;
        }
      }
      return;
    }
    // a start tag
    if (MEDIA.has(name)) {
      top().el.append(mediaNode(name, tok.attrs));
      if (!VOID.has(name) && !tok.selfClosing) skip = { name, depth: 1 };
      return;
    }
    if (DROPPED.has(name)) {
      if (!VOID.has(name) && !tok.selfClosing) skip = { name, depth: 1 };
      return;
    }
    if (VOID.has(name) && !ALLOWED.has(name)) return; // input, meta, link, wbr, ...
    // implied end tags, as HTML's parser closes them
    if (CLOSES_P.has(name)) {
      const k = findOpen(P, P_STOP);
      if (k > 0) closeTo(k);
    }
    if (name === 'li') {
      const k = findOpen(LI, LIST);
      if (k > 0) closeTo(k);
    } else if (name === 'dt' || name === 'dd') {
      const k = findOpen(DEF, DL);
      if (k > 0) closeTo(k);
    } else if (name === 'tr') {
      const k = findOpen(ROW, ROW_STOP);
      if (k > 0) closeTo(k);
    } else if (name === 'td' || name === 'th') {
      const k = findOpen(CELL, CELL_STOP);
      if (k > 0) closeTo(k);
    }
    const parent = top().el;
    let el = null;
    if (stack.length <= MAX_DEPTH) {
      if (HEADINGS.has(name)) {
        el = document.createElement('p');
        el.className = 'user-heading';
      } else if (ALLOWED.has(name)) {
        el = safeElement(name, tok.attrs);
        if (name === 'a' && !el.hasAttribute('href')) el = null; // a link to nowhere safe keeps only its text
      }
    }
    if (el) parent.append(el);
    if (VOID.has(name) || tok.selfClosing) return;
    stack.push({ name, el: el ?? parent });
  });
  return root;
}

/** The visible text of user HTML, on one line (for previews, summaries and finding words). */
export function htmlToText(html) {
  if (typeof html !== 'string' || html === '') return '';
  const parts = [];
  let skip = null;
  tokenize(html, (tok) => {
    if (skip) {
      if (tok.type === 'start' && tok.name === skip.name && !tok.selfClosing) skip.depth++;
      else if (tok.type === 'end' && tok.name === skip.name && --skip.depth === 0) skip = null;
      return;
    }
    if (tok.type === 'text') parts.push(tok.text);
    else if (tok.type === 'start' && MEDIA.has(tok.name)) {
      parts.push(` ${mediaLabel(tok.name, tok.attrs)} `);
      if (!VOID.has(tok.name) && !tok.selfClosing) skip = { name: tok.name, depth: 1 };
    } else if (tok.type === 'start' && DROPPED.has(tok.name)) {
      if (!VOID.has(tok.name) && !tok.selfClosing) skip = { name: tok.name, depth: 1 };
    } else if (BLOCK.has(tok.name)) parts.push(' ');
  });
  return parts.join('').replace(/\s+/g, ' ').trim();
}
