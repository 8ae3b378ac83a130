// The replay's executor: applies a batch of DOM ops (JSON from the
// player's wasm, `player/src/render.rs`) to the replay iframe's document.
//
// It keeps its own `Map` from node id to DOM node per document (a `reset`
// starts a new one), and wraps every op in `try`/`catch` so that one bad
// tag or attribute name in a recording costs that node, never the frame.
// The ops arrive sanitised; this only executes. Nothing it creates can
// run: the iframe's sandbox has no `allow-scripts`.

const NS = {
  html: 'http://www.w3.org/1999/xhtml',
  svg: 'http://www.w3.org/2000/svg',
  math: 'http://www.w3.org/1998/Math/MathML',
};
const XLINK = 'http://www.w3.org/1999/xlink';
const XML = 'http://www.w3.org/XML/1998/namespace';
const XMLNS = 'http://www.w3.org/2000/xmlns/';
const maps = new WeakMap();
// Constructed sheets per replay document, created in its window (a sheet
// can only be adopted by documents of the window that made it).
const sheetMaps = new WeakMap();

function constructed(doc, cs) {
  let sm = sheetMaps.get(doc);
  if (!sm) {
    sm = new Map();
    sheetMaps.set(doc, sm);
  }
  let sh = sm.get(cs);
  if (!sh) {
    const W = doc.defaultView;
    sh = new W.CSSStyleSheet();
    sm.set(cs, sh);
  }
  return sh;
}

function sheetOf(doc, m, o) {
  if (o.id) {
    const n = m.get(o.id);
    return n && n.sheet;
  }
  return constructed(doc, o.cs);
}

function ruleList(sheet, path) {
  let list = sheet;
  for (const i of path) list = list.cssRules[i];
  return list;
}

function replaceRules(doc, sheet, text) {
  if (sheet.replaceSync && !sheet.ownerNode) {
    sheet.replaceSync(text);
    return;
  }
  const W = doc.defaultView;
  const tmp = new W.CSSStyleSheet();
  tmp.replaceSync(text);
  while (sheet.cssRules.length) sheet.deleteRule(0);
  for (const r of tmp.cssRules) sheet.insertRule(r.cssText, sheet.cssRules.length);
}

function setAttr(el, name, value) {
  try {
    if (name.startsWith('xlink:')) el.setAttributeNS(XLINK, name, value);
    else if (name.startsWith('xml:')) el.setAttributeNS(XML, name, value);
    else if (name === 'xmlns' || name.startsWith('xmlns:')) el.setAttributeNS(XMLNS, name, value);
    else el.setAttribute(name, value);
  } catch (e) {}
}

// The recorded page ran with script on, and a browser hides <noscript>
// where script runs; the replay runs none, so every replayed document and
// shadow root adopts this one-rule sheet, last (what the browser's own
// stylesheet does on the page). It is marked `reelPlayer` so a fidelity
// check can tell it from the page's own adopted sheets.
//
// Scroll anchoring is off there too: where the window and every element
// are scrolled comes from the recording alone (the page's own anchoring is
// in its recorded scroll positions), and a replay's layout settles later
// than the page's did (a stylesheet enabled by the recording loads only
// then), which must not move what the recording placed.
const UA_CSS = 'noscript { display: none !important; } * { overflow-anchor: none !important; }';
const uaSheets = new WeakMap();

function uaSheet(doc) {
  let sh = uaSheets.get(doc);
  if (!sh) {
    const W = doc.defaultView;
    if (!W) return [];
    sh = new W.CSSStyleSheet();
    sh.replaceSync(UA_CSS);
    sh.reelPlayer = true;
    uaSheets.set(doc, sh);
  }
  return [sh];
}

// A <canvas> in a document that runs no script (the replay) shows its
// fallback content, not a box of its bitmap: each replayed canvas of a
// document gets a rule in the player's UA sheet that makes it an image of
// its recorded bitmap (or, without one, a transparent image of its
// width and height attributes), which lays out as the canvas did. The rules
// are in a cascade layer, so the page's own rules win, as they win over a
// canvas's natural size. A rule names its canvas by position (no attribute
// is added), so they are written again when the document changes.
const canvasCss = new WeakMap();
const BITMAP = /^data:image\/(png|webp|jpeg);base64,[A-Za-z0-9+/=]*$/;

function canvasSize(el, name, dflt) {
  const v = /^\s*(\d+)/.exec(el.getAttribute(name) || '');
  return v ? parseInt(v[1], 10) : dflt;
}

function canvasRules(doc) {
  const list = doc.getElementsByTagName('canvas');
  if (!list.length && !canvasCss.get(doc)) return;
  let css = '';
  for (const el of list) {
    let path = '';
    for (let n = el; n && n !== doc.documentElement; n = n.parentElement) {
      let i = 1;
      for (let s = n.previousElementSibling; s; s = s.previousElementSibling) i++;
      path = ' > :nth-child(' + i + ')' + path;
    }
    const img = BITMAP.test(el.reelBitmap || '')
      ? el.reelBitmap
      : "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='" +
        canvasSize(el, 'width', 300) +
        "' height='" +
        canvasSize(el, 'height', 150) +
        "'/%3E";
    css += ':root' + path + ' { content: url("' + img + '"); }\n';
  }
  if (css === (canvasCss.get(doc) || '')) return;
  canvasCss.set(doc, css);
  const sh = uaSheets.get(doc);
  if (sh) sh.replaceSync(UA_CSS + '\n@layer reel-canvas {\n' + css + '}');
}

// Sets the adopted sheets of a document or shadow root: the page's, then
// the replay's UA sheet.
function adopt(root, sheets) {
  const doc = root.nodeType === 9 ? root : root.ownerDocument;
  try {
    root.adoptedStyleSheets = sheets.concat(uaSheet(doc));
  } catch (e) {
    root.adoptedStyleSheets = sheets;
  }
}

// `<!DOCTYPE …>` markup that parses back into the recorded doctype.
function doctypeMarkup(k) {
  const quote = (v) => (!v.includes('"') ? '"' + v + '"' : !v.includes("'") ? "'" + v + "'" : null);
  let out = '<!DOCTYPE ' + (String(k.name).replace(/[\s>]/g, '') || 'html');
  const pub = k.public_id ? quote(k.public_id) : null;
  const sys = k.system_id ? quote(k.system_id) : null;
  if (pub) out += ' PUBLIC ' + pub + (sys ? ' ' + sys : '');
  else if (sys) out += ' SYSTEM ' + sys;
  return out + '>';
}

// Empties `doc` by re-parsing it from `markup` (a doctype, or nothing), so
// that it takes the compatibility mode (quirks, limited quirks or
// standards) the recorded document's parser gave it: a document's mode is
// set only by parsing, and `document.open()` keeps the Document and its
// window (the replay holds on to both). Falls back to removing children.
function reopen(doc, markup) {
  try {
    doc.open();
    if (markup) doc.write(markup);
    doc.close();
  } catch (e) {
    console.warn('reel: could not set a replayed document mode:', e);
  }
  for (let c = doc.firstChild; c;) {
    const next = c.nextSibling;
    if (!markup || c.nodeType !== 10) doc.removeChild(c);
    c = next;
  }
}

// The window's recorded scroll position per replayed document, restated
// whenever something loads there later (a stylesheet, an image, a font):
// a page shorter for a moment, while a sheet enabled by the recording
// loads, would otherwise leave the window clamped where it was then.
const keepers = new WeakMap();

function keepScroll(doc, x, y) {
  let k = keepers.get(doc);
  if (!k) {
    k = { x: 0, y: 0 };
    k.again = () => {
      const w = doc.defaultView;
      if (w && (w.scrollX !== k.x || w.scrollY !== k.y)) w.scrollTo(k.x, k.y);
    };
    keepers.set(doc, k);
  }
  k.x = x;
  k.y = y;
  // Adding the same listener again does nothing; `document.open()` (a
  // rebuild) removes them, and the next scroll op adds them back.
  doc.addEventListener('load', k.again, true);
  if (doc.fonts) doc.fonts.addEventListener('loadingdone', k.again);
}

// A masked value as the player receives it (`FieldValue::MASK`).
const MASK = '\u2022\u2022\u2022\u2022\u2022\u2022';

// A masked <select> carries no choice (contract §2), and a value no option
// has would show an empty box where the page showed an option: it shows
// what the page showed before any choice instead (the select's reset
// state: its `selected` options, else its first enabled one), which
// reveals nothing.
function showUnchosen(sel) {
  for (const opt of sel.options) opt.selected = opt.defaultSelected;
  if (sel.selectedIndex < 0 && !sel.multiple) {
    const first = Array.prototype.find.call(sel.options, (opt) => !opt.disabled);
    if (first) first.selected = true;
  }
}

function make(doc, k) {
  switch (k.t) {
    case 'element': {
      const el = k.ns === 'html' ? doc.createElement(k.tag) : doc.createElementNS(NS[k.ns] || NS.html, k.tag);
      for (const [name, value] of k.attrs) setAttr(el, name, value);
      return el;
    }
    case 'text':
      return doc.createTextNode(k.text);
    case 'comment':
      return doc.createComment(k.text);
    case 'cdata':
      try {
        return doc.createCDATASection(k.text);
      } catch (e) {
        return doc.createTextNode(k.text);
      }
    case 'doctype':
      return doc.implementation.createDocumentType(k.name, k.public_id, k.system_id);
  }
  return null;
}

// The replay's animations run at the player's speed, and stand still
// (rate 0) while it is paused: a paused replay shows one moment, the one
// whose phases the last jump set.
let rate = 0;

// Sets every animation of `doc` and its frames' documents to `rate`.
function setRate(doc) {
  const docs = [doc];
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i];
    if (!d || !d.getAnimations) continue;
    try {
      for (const a of d.getAnimations()) a.playbackRate = rate;
      for (const f of d.querySelectorAll('iframe, frame')) docs.push(f.contentDocument);
    } catch (e) {}
  }
}

export function reel_rate(doc, r) {
  rate = r;
  setRate(doc);
}

export function reel_apply(doc, json, settle) {
  const ops = JSON.parse(json);
  let m = maps.get(doc);
  if (!m) {
    m = new Map();
    maps.set(doc, m);
  }
  for (const o of ops) {
    try {
      switch (o.op) {
        case 'reset': {
          // Quirks until a doctype is created (see `reopen`).
          reopen(doc, '');
          m = new Map();
          maps.set(doc, m);
          sheetMaps.delete(doc);
          try {
            adopt(doc, []);
          } catch (e) {}
          if (o.doc) m.set(o.doc, doc);
          break;
        }
        case 'create': {
          const parent = m.get(o.parent);
          if (!parent) break;
          const old = m.get(o.id);
          if (old && old.parentNode) old.parentNode.removeChild(old);
          m.delete(o.id);
          if (o.node.t === 'shadow_root') {
            // A host keeps its shadow root for life: reuse and empty it.
            const root = parent.shadowRoot || parent.attachShadow({ mode: 'open' });
            while (root.firstChild) root.removeChild(root.firstChild);
            adopt(root, []);
            m.set(o.id, root);
            break;
          }
          if (o.node.t === 'document') {
            // A frame's document: the replayed <iframe> loads nothing, so
            // this is its initial about:blank, same-origin and sandboxed
            // like the replay itself.
            const d = parent.contentDocument;
            if (!d) break;
            // A fresh frame's document is in quirks mode already; one the
            // replay built before is parsed anew.
            if (d.URL !== 'about:blank') reopen(d, '');
            else while (d.firstChild) d.removeChild(d.firstChild);
            adopt(d, []);
            m.set(o.id, d);
            break;
          }
          if (o.node.t === 'doctype' && parent.nodeType === 9 && !parent.doctype) {
            // A document's doctype: the document is parsed anew from it,
            // for its compatibility mode, and gets its nodes back (unless
            // they hold frames, which would lose their documents).
            const kids = Array.from(parent.childNodes);
            if (kids.some((k) => k.nodeType === 1 && k.querySelector('iframe, frame'))) {
              const fallback = make(parent, o.node);
              if (fallback) parent.insertBefore(fallback, parent.firstChild);
              m.set(o.id, fallback);
              break;
            }
            reopen(parent, doctypeMarkup(o.node));
            let dt = parent.doctype;
            for (const k of kids) parent.appendChild(k);
            const next = o.next ? m.get(o.next) : null;
            if (dt) parent.insertBefore(dt, next && next.parentNode === parent ? next : parent.firstChild);
            const k = o.node;
            if (dt && (dt.name !== k.name || dt.publicId !== k.public_id || dt.systemId !== k.system_id)) {
              const exact = make(parent, k);
              if (exact) {
                parent.replaceChild(exact, dt);
                dt = exact;
              }
            }
            if (dt) {
              m.set(o.id, dt);
              break;
            }
          }
          const owner = parent.nodeType === 9 ? parent : parent.ownerDocument || doc;
          const n = make(owner, o.node);
          if (!n) break;
          const next = o.next ? m.get(o.next) : null;
          parent.insertBefore(n, next && next.parentNode === parent ? next : null);
          m.set(o.id, n);
          break;
        }
        case 'move': {
          const n = m.get(o.id);
          const parent = m.get(o.parent);
          if (!n || !parent) break;
          const next = o.next ? m.get(o.next) : null;
          parent.insertBefore(n, next && next.parentNode === parent ? next : null);
          break;
        }
        case 'remove': {
          const n = m.get(o.id);
          if (n && n.parentNode) n.parentNode.removeChild(n);
          m.delete(o.id);
          break;
        }
        case 'rebind': {
          const n = m.get(o.from);
          m.delete(o.from);
          if (n) m.set(o.id, n);
          break;
        }
        case 'set_attr': {
          const n = m.get(o.id);
          if (n && n.setAttribute) setAttr(n, o.name, o.value);
          break;
        }
        case 'remove_attr': {
          const n = m.get(o.id);
          if (n && n.removeAttribute) n.removeAttribute(o.name);
          break;
        }
        case 'set_text': {
          const n = m.get(o.id);
          if (n && n.nodeType !== 1 && n.nodeType !== 9) n.data = o.text;
          break;
        }
        case 'set_value': {
          const n = m.get(o.id);
          if (n && n.localName === 'select' && o.value === MASK) showUnchosen(n);
          else if (n && 'value' in n) n.value = o.value;
          break;
        }
        case 'set_checked': {
          const n = m.get(o.id);
          if (n && 'checked' in n) n.checked = o.checked;
          else if (n && 'selected' in n) n.selected = o.checked; // an <option> of a multiple select
          break;
        }
        case 'scroll': {
          const n = m.get(o.id);
          if (n && n.nodeType === 9) {
            const w = n.defaultView;
            if (w) w.scrollTo(o.x, o.y);
            keepScroll(n, o.x, o.y);
          } else if (n && n.nodeType === 1) {
            n.scrollLeft = o.x;
            n.scrollTop = o.y;
          }
          break;
        }
        case 'sheet_insert': {
          const sh = sheetOf(doc, m, o);
          if (sh) ruleList(sh, o.path).insertRule(o.rule, o.index);
          break;
        }
        case 'sheet_delete': {
          const sh = sheetOf(doc, m, o);
          if (sh) ruleList(sh, o.path).deleteRule(o.index);
          break;
        }
        case 'sheet_replace': {
          const sh = sheetOf(doc, m, o);
          if (sh) replaceRules(doc, sh, o.text);
          break;
        }
        case 'adopt': {
          const n = m.get(o.id);
          if (n)
            adopt(
              n,
              o.sheets.map((cs) => constructed(doc, cs)),
            );
          break;
        }
        case 'media': {
          const n = m.get(o.id);
          if (n && 'currentTime' in n) {
            n.muted = true;
            n.playbackRate = o.rate;
            n.currentTime = o.time;
            if (o.paused) n.pause();
            else {
              const p = n.play();
              if (p && p.catch) p.catch(() => {});
            }
          }
          break;
        }
        case 'popover': {
          const n = m.get(o.id);
          if (n && n.showPopover) {
            if (o.open) n.showPopover();
            else n.hidePopover();
          }
          break;
        }
        case 'anim': {
          // The recorded phase of a CSS animation of this element (or of
          // its pseudo-element), at the playhead.
          const n = m.get(o.id);
          if (n && n.getAnimations)
            for (const a of n.getAnimations({ subtree: true })) {
              const e = a.effect;
              if (a.animationName === o.name && e && e.target === n && (e.pseudoElement || null) === o.pseudo) {
                a.currentTime = o.time;
                if (o.paused) a.pause();
              }
            }
          break;
        }
        case 'canvas': {
          const n = m.get(o.id);
          if (n && n.getContext) {
            const img = new (doc.defaultView || window).Image();
            img.onload = () => {
              try {
                const c = n.getContext('2d');
                c.clearRect(0, 0, n.width, n.height);
                c.drawImage(img, 0, 0);
              } catch (e) {}
            };
            img.src = o.url;
            n.reelBitmap = o.url;
          }
          break;
        }
      }
    } catch (e) {
      // One bad op (an invalid tag or name in the recording) never aborts
      // the rest of the frame.
    }
  }
  if (settle && doc.getAnimations) {
    // After a jump, a page shows what it settled into: the CSS transitions
    // the jump's changes started end at once (playback lets them run).
    try {
      for (const a of doc.getAnimations()) {
        if (a.transitionProperty !== undefined)
          try {
            a.playbackRate = 1; // a rate of 0 cannot finish
            a.finish();
          } catch (e) {}
      }
    } catch (e) {}
  }
  if (rate !== 1) setRate(doc);
  const docs = [doc];
  for (let i = 0; i < docs.length; i++)
    try {
      canvasRules(docs[i]);
      for (const f of docs[i].querySelectorAll('iframe, frame')) if (f.contentDocument) docs.push(f.contentDocument);
    } catch (e) {}
}
