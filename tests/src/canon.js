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
//   - a [data-reel-block] element is compared by tag and that attribute only.
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
    return tokens.some((t) => t.startsWith('cc-') || t === 'current-password' || t === 'new-password' || t === 'one-time-code');
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

  const normValue = (name, value) => {
    const squashed = value.replace(/[\t\n\r]/g, '').trim().toLowerCase();
    if (squashed.startsWith('javascript:')) return 'javascript:';
    if (URL_ATTRS.has(name.toLowerCase())) {
      try {
        return new URL(value, base).href;
      } catch (_) {
        return value;
      }
    }
    return value;
  };

  const isStylesheetLink = (el) =>
    isHtml(el) && tagOf(el) === 'link' &&
    (el.getAttribute('rel') || '').toLowerCase().split(/\s+/).includes('stylesheet');

  // Returns the canonical object for `node` (with a `children` array when
  // its children are to be compared).
  const canonNode = (node) => {
    switch (node.nodeType) {
      case 9: // document
        return { type: 'document', children: [] };
      case 10: // doctype
        return { type: 'doctype', name: node.name, publicId: node.publicId, systemId: node.systemId };
      case 3: { // text
        const parent = node.parentElement;
        if (parent && parent.closest('[data-reel-mask]')) return { type: 'text', masked: true };
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
        const names = Array.from(node.attributes, (a) => a.name).sort();
        const attrs = {};
        for (const name of names) {
          const lower = name.toLowerCase();
          if (lower.startsWith('on')) continue;
          if (script && lower === 'src') continue;
          if (sheet && lower === 'href') continue;
          if (masked && lower === 'value') continue;
          attrs[name] = normValue(name, node.getAttribute(name) ?? '');
        }
        out.attrs = attrs;
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
    for (let c = node.firstChild; c; c = c.nextSibling) {
      const co = canonNode(c);
      out.children.push(co);
      if (co.children && !co.childrenIgnored) stack.push([c, co]);
    }
  }
  return root;
})
