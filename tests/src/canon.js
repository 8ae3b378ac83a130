// The canonical form of a Document, for comparing a recorded page with its
// replay (see fidelity.rs). This file is one function *expression*; the
// harness evaluates `(<this file>)(doc)` in the page.
//
// It keeps everything the contract's fidelity clause requires to be equal
// (node for node: types, tags, namespaces, attributes, text data, including
// whitespace-only text) and normalises only what the clause allows to
// differ:
//   - scripts are inert: a <script>'s children and its `src` are ignored;
//   - `on*` handler attributes are dropped;
//   - `javascript:` URLs compare as just "javascript:";
//   - URL-valued attributes are made absolute against the document's base
//     (the replay may absolutise them), and a stylesheet <link>'s href is
//     ignored (the replay may load the sheet from elsewhere);
//   - masked field values (`value` of input/textarea/select/option, the text
//     of a <textarea>) are ignored unless the field is unmasked and may be;
//   - text under [data-reel-mask] is compared by presence only;
//   - a [data-reel-block] element is compared by tag and that attribute only;
//   - CSS url()s (in `style` attributes, <style> text and stylesheet rules)
//     and `srcset` URLs are made absolute like URL attributes; `#frag`-only
//     references stay as written in CSS and in SVG attributes (the replay
//     keeps them same-document), while an HTML element's `href="#x"` is
//     made absolute too (the replay may point it at the recorded page's
//     URL: a link shows and lays out the same either way);
//   - a frame's `src` and `srcdoc` are ignored: the replay rebuilds a frame's
//     document inside it (compared as the frame's one child `document`)
//     instead of loading its URL.
// Beyond the DOM, it also compares what a page shows through other APIs:
// open shadow roots (a `shadow-root` first among the host's children), the
// rules of every <style>'s sheet (so CSSOM edits count), and each
// document's and shadow root's adopted stylesheets (but the replay's one
// sheet that hides <noscript>), and each document's compatibility mode.
//
// It never uses `instanceof` (the replay's nodes come from another realm) and
// walks the tree with an explicit stack (a very deep page must not overflow
// the JS stack).
(function reelCanon(doc) {
  const HTML_NS = 'http://www.w3.org/1999/xhtml';
  const URL_ATTRS = new Set(['src', 'href', 'action', 'poster', 'formaction', 'xlink:href', 'background']);
  const FIELDS = new Set(['input', 'textarea', 'select', 'option']);
  const base = doc.baseURI;

  const tagOf = (el) => (el.namespaceURI === HTML_NS ? el.localName.toLowerCase() : el.localName);
  const isHtml = (el) => el.namespaceURI === HTML_NS;

  // password, cc-*, current-password, new-password, one-time-code: never in
  // clear, whatever else the markup says.
  const neverClear = (field) => {
    if (tagOf(field) === 'input' && (field.getAttribute('type') || '').trim().toLowerCase() === 'password') {
      return true;
    }
    const tokens = (field.getAttribute('autocomplete') || '').toLowerCase().split(/\s+/);
    return tokens.some(
      (t) => t.startsWith('cc-') || t === 'current-password' || t === 'new-password' || t === 'one-time-code',
    );
  };

  // Is this field's value recorded in clear? An <option> belongs to its
  // <select> (or datalist), so its "field" is the nearest select when any.
  const inClear = (el) => {
    let field = el;
    if (tagOf(el) === 'option') {
      const sel = el.closest('select');
      if (sel) field = sel;
    }
    return el.closest('[data-reel-unmask]') !== null && !neverClear(field);
  };

  const abs = (u, b, html) => {
    const t = u.trim();
    if ((t.startsWith('#') && !html) || t === '') return t;
    try {
      return new URL(t, b).href;
    } catch (_) {
      return u;
    }
  };
  const normCss = (css, b) =>
    css.replace(/url\(\s*(['"]?)(.*?)\1\s*\)/g, (_, q, u) => 'url("' + (u.startsWith('data:') ? u : abs(u, b)) + '")');
  const normSrcset = (v, b) =>
    v
      .split(',')
      .map((part) => {
        const bits = part.trim().split(/\s+/);
        if (!bits[0]) return '';
        bits[0] = abs(bits[0], b);
        return bits.join(' ');
      })
      .join(', ');

  const normValue = (name, value, b, html) => {
    const squashed = value
      .replace(/[\t\n\r]/g, '')
      .trim()
      .toLowerCase();
    if (squashed.startsWith('javascript:')) return 'javascript:';
    const lower = name.toLowerCase();
    if (URL_ATTRS.has(lower)) return abs(value, b, html);
    if (lower === 'srcset' || lower === 'imagesrcset') return normSrcset(value, b);
    if (lower === 'style') return normCss(value, b);
    return value;
  };

  const rulesOf = (sheet, b) => {
    try {
      return Array.from(sheet.cssRules, (r) => normCss(r.cssText, b));
    } catch (_) {
      return ['<unreadable>'];
    }
  };
  // The replay's own UA-like sheet (it hides <noscript>, as a browser
  // running script does; see player/js/apply.js) is not the page's.
  const adoptedOf = (root, out, b) => {
    const list = Array.from(root.adoptedStyleSheets || [], (sh) => sh).filter((sh) => !sh.reelPlayer);
    if (list.length) out.adopted = list.map((sh) => rulesOf(sh, b));
  };
  const frameDoc = (el) => {
    try {
      return el.contentDocument || null;
    } catch (_) {
      return null;
    }
  };

  // What an element shows that is not in its attributes: the live state of
  // form fields (in clear only), media playback (the position only while
  // paused: a playing element's clock runs on in both documents) and scroll
  // offsets (rounded: the replay may land on a fraction of a pixel).
  const stateOf = (el, tag, masked) => {
    if (!isHtml(el)) return null;
    const st = {};
    if (tag === 'input' && (el.type === 'checkbox' || el.type === 'radio')) st.checked = el.checked;
    else if ((tag === 'input' || tag === 'textarea' || tag === 'select') && !masked) st.value = el.value;
    if (tag === 'option') {
      const sel = el.closest('select');
      if (!sel || inClear(sel)) st.selected = el.selected;
    }
    if (tag === 'video' || tag === 'audio') {
      st.paused = el.paused;
      st.rate = el.playbackRate;
      if (el.paused) st.time = Math.round(el.currentTime * 10) / 10;
    }
    if (el.scrollTop || el.scrollLeft) st.scroll = [Math.round(el.scrollLeft), Math.round(el.scrollTop)];
    return Object.keys(st).length ? st : null;
  };

  const isStylesheetLink = (el) =>
    isHtml(el) &&
    tagOf(el) === 'link' &&
    (el.getAttribute('rel') || '').toLowerCase().split(/\s+/).includes('stylesheet');

  // Returns the canonical object for `node` (with a `children` array when
  // its children are to be compared).
  const canonNode = (node) => {
    const b = node.nodeType === 9 ? node.baseURI : node.ownerDocument ? node.ownerDocument.baseURI : base;
    switch (node.nodeType) {
      case 9: {
        // document
        const out = { type: 'document', mode: node.compatMode, children: [] };
        adoptedOf(node, out, b);
        const win = node.defaultView;
        if (win && (win.scrollX || win.scrollY)) out.scroll = [Math.round(win.scrollX), Math.round(win.scrollY)];
        return out;
      }
      case 11: {
        // an open shadow root
        const out = { type: 'shadow-root', children: [] };
        adoptedOf(node, out, b);
        return out;
      }
      case 10: // doctype
        return { type: 'doctype', name: node.name, publicId: node.publicId, systemId: node.systemId };
      case 3: {
        // text
        const parent = node.parentElement;
        if (parent && parent.closest('[data-reel-mask]')) return { type: 'text', masked: true };
        if (parent && parent.localName === 'style') return { type: 'text', data: normCss(node.data, b) };
        return { type: 'text', data: node.data };
      }
      case 4:
        return { type: 'cdata', data: node.data };
      case 7:
        return { type: 'pi', target: node.target, data: node.data };
      case 8:
        return { type: 'comment', data: node.data };
      case 1: {
        const tag = tagOf(node);
        const out = { type: 'element', tag };
        if (!isHtml(node)) out.ns = node.namespaceURI;
        if (node.hasAttribute('data-reel-block')) {
          out.blocked = true;
          return out;
        }
        const script = tag === 'script';
        const field = isHtml(node) && FIELDS.has(tag);
        const masked = field && !inClear(node);
        const sheet = isStylesheetLink(node);
        const frame = isHtml(node) && (tag === 'iframe' || tag === 'frame');
        const names = Array.from(node.attributes, (a) => a.name).sort();
        const attrs = {};
        for (const name of names) {
          const lower = name.toLowerCase();
          if (lower.startsWith('on')) continue;
          if (script && lower === 'src') continue;
          if (sheet && lower === 'href') continue;
          if (frame && (lower === 'src' || lower === 'srcdoc')) continue;
          if (masked && lower === 'value') continue;
          attrs[name] = normValue(name, node.getAttribute(name) ?? '', b, isHtml(node));
        }
        out.attrs = attrs;
        const st = stateOf(node, tag, masked);
        if (st) out.state = st;
        if (tag === 'style' && node.sheet) out.rules = rulesOf(node.sheet, b);
        if (script) {
          out.children = [];
          out.childrenIgnored = 'script';
        } else if (masked && tag === 'textarea') {
          out.children = [];
          out.childrenIgnored = 'masked';
        } else {
          out.children = [];
        }
        return out;
      }
      default:
        return { type: 'other', nodeType: node.nodeType };
    }
  };

  if (!doc || doc.nodeType !== 9) throw new Error('reelCanon: not a Document: ' + String(doc));
  const root = canonNode(doc);
  const stack = [[doc, root]];
  while (stack.length) {
    const [node, out] = stack.pop();
    if (out.childrenIgnored) continue;
    const kids = [];
    if (node.nodeType === 1 && node.shadowRoot && node.shadowRoot.mode === 'open') kids.push(node.shadowRoot);
    for (let c = node.firstChild; c; c = c.nextSibling) kids.push(c);
    if (node.nodeType === 1 && /^i?frame$/.test(node.localName)) {
      const d = frameDoc(node);
      if (d) kids.push(d);
    }
    for (const c of kids) {
      const co = canonNode(c);
      out.children.push(co);
      if (co.children && !co.childrenIgnored) stack.push([c, co]);
    }
  }
  return root;
});
