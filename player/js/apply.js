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
          while (doc.firstChild) doc.removeChild(doc.firstChild);
          m = new Map();
          maps.set(doc, m);
          sheetMaps.delete(doc);
          try {
            doc.adoptedStyleSheets = [];
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
            m.set(o.id, root);
            break;
          }
          if (o.node.t === 'document') {
            // A frame's document: the replayed <iframe> loads nothing, so
            // this is its initial about:blank, same-origin and sandboxed
            // like the replay itself.
            const d = parent.contentDocument;
            if (!d) break;
            while (d.firstChild) d.removeChild(d.firstChild);
            m.set(o.id, d);
            break;
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
          if (n && 'value' in n) n.value = o.value;
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
          if (n) n.adoptedStyleSheets = o.sheets.map((cs) => constructed(doc, cs));
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
            a.finish();
          } catch (e) {}
      }
    } catch (e) {}
  }
}
