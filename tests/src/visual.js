// What a viewer sees of a Document, for comparing a recorded page with its
// replay box for box (see fidelity.rs, `visual_diff`). Like canon.js this
// file is one function *expression*; the harness evaluates
// `(<this file>)(doc)` in the page.
//
// It returns one row per element, in tree order, across the document, its
// open shadow roots and its same-origin frame documents:
//   [path, x, y, width, height, styles]
// where the box is the element's getBoundingClientRect() in its own
// document's coordinates (the viewport's plus that document's scroll), and
// `styles` is the computed values a viewer notices, joined by "|" in the
// order of PROPS. Frame documents are compared in their own coordinates:
// the frame element's own row already places the frame.
//
// What the contract lets differ is left out, each for its reason:
//   - a <script>, <noscript> (the recorded page ran script, so no
//     <noscript> showed; nothing under either renders), <template>;
//   - the subtree of a [data-reel-block] element: "its subtree is not
//     recorded; replay shows an empty box of its size", so the blocked
//     element's own box and styles are compared, not its inside;
//   - boxes inside a [data-reel-mask] subtree: its text is masked, and a mask
//     may not reveal the text's length, so those boxes may differ (their
//     styles are still compared);
//   - an <option>'s box (a closed select's options have no layout).
// The player's own UA-like sheet (hiding <noscript>) is not an element and
// needs no exemption.
//
// Like canon.js it uses no `instanceof` (the replay is another realm) and an
// explicit stack.
(function reelVisual(doc) {
  const PROPS = [
    'display',
    'visibility',
    'position',
    'color',
    'background-color',
    'font-size',
    'font-family',
    'line-height',
    'opacity',
    'transform',
  ];
  const SKIP = new Set(['script', 'noscript', 'template', 'head']);
  const r2 = (v) => Math.round(v * 100) / 100;
  const rows = [];
  const frameDoc = (el) => {
    try {
      return el.contentDocument || null;
    } catch (_) {
      return null;
    }
  };
  const name = (el) => {
    const tag = el.localName;
    const id = el.getAttribute('id');
    return id ? tag + '#' + id : tag;
  };
  // [node, path, inMask]: node is a document, shadow root or element.
  const stack = [[doc, 'document', false]];
  while (stack.length) {
    const [node, path, inMask] = stack.pop();
    const kids = [];
    let masked = inMask;
    if (node.nodeType === 9 || node.nodeType === 11) {
      for (let c = node.firstElementChild; c; c = c.nextElementSibling) kids.push(c);
    } else {
      const tag = node.localName;
      const w = node.ownerDocument.defaultView;
      masked = inMask || node.hasAttribute('data-reel-mask');
      const r = node.getBoundingClientRect();
      const cs = w.getComputedStyle(node);
      const box =
        masked || tag === 'option'
          ? [null, null, null, null]
          : [r.x + w.scrollX, r.y + w.scrollY, r.width, r.height].map(r2);
      rows.push([path, ...box, PROPS.map((p) => cs.getPropertyValue(p)).join('|')]);
      if (node.hasAttribute('data-reel-block')) continue;
      if (node.shadowRoot && node.shadowRoot.mode === 'open')
        stack.push([node.shadowRoot, path + '>#shadow-root', masked]);
      for (let c = node.firstElementChild; c; c = c.nextElementSibling) kids.push(c);
      if (tag === 'iframe' || tag === 'frame') {
        const fd = frameDoc(node);
        if (fd) stack.push([fd, path + '>#document', masked]);
      }
    }
    // Children are pushed in reverse so rows come out in tree order; a
    // name repeated among siblings gets its index among the element
    // children.
    const counts = new Map();
    for (const c of kids) counts.set(name(c), (counts.get(name(c)) || 0) + 1);
    const pathOf = (c, i) => {
      const n = name(c);
      const seg = counts.get(n) > 1 ? n + '[' + i + ']' : n;
      return path === 'document' ? seg : path + '>' + seg;
    };
    for (let i = kids.length - 1; i >= 0; i--) {
      const c = kids[i];
      if (SKIP.has(c.localName) && c.namespaceURI === 'http://www.w3.org/1999/xhtml') continue;
      stack.push([c, pathOf(c, i), masked]);
    }
  }
  return { props: PROPS, rows };
});
