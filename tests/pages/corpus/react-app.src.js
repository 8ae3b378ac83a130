// A small React app (react + react-dom from npm, bundled by esbuild at test
// time into /built/react-app.js; see tests/tests/corpus.rs): controlled
// inputs, a list keyed by id, and a dialog rendered through a portal into
// another part of the document.
import { createElement as h, useState } from 'react';
import { createPortal, flushSync } from 'react-dom';
import { createRoot } from 'react-dom/client';

let api = null;

function Dialog({ onClose, count }) {
  return createPortal(
    h(
      'div',
      { className: 'dialog', role: 'dialog' },
      h('h2', null, 'Portal dialog'),
      h('p', null, `${count} item(s) in the list.`),
      h('button', { onClick: onClose }, 'Close'),
    ),
    document.getElementById('portal-root'),
  );
}

function App() {
  const [name, setName] = useState('');
  const [agree, setAgree] = useState(false);
  const [size, setSize] = useState('m');
  const [items, setItems] = useState([
    { id: 1, text: 'first' },
    { id: 2, text: 'second' },
  ]);
  const [open, setOpen] = useState(false);
  api = { setName, setAgree, setSize, setItems, setOpen };
  return h(
    'div',
    { className: 'app' },
    h('h1', { style: { color: agree ? 'seagreen' : 'crimson' } }, `Hello, ${name || 'stranger'}`),
    h(
      'form',
      { onSubmit: (e) => e.preventDefault() },
      h('label', null, 'Name ', h('input', { id: 'name', value: name, onChange: (e) => setName(e.target.value) })),
      h(
        'label',
        null,
        h('input', { id: 'agree', type: 'checkbox', checked: agree, onChange: (e) => setAgree(e.target.checked) }),
        ' I agree',
      ),
      h(
        'select',
        { id: 'size', value: size, onChange: (e) => setSize(e.target.value) },
        h('option', { value: 's' }, 'Small'),
        h('option', { value: 'm' }, 'Medium'),
        h('option', { value: 'l' }, 'Large'),
      ),
    ),
    h(
      'ul',
      { className: `list size-${size}` },
      items.map((it) => h('li', { key: it.id, className: it.id % 2 ? 'odd' : 'even' }, it.text)),
    ),
    h('button', { id: 'open', onClick: () => setOpen(true) }, 'Open dialog'),
    open ? h(Dialog, { count: items.length, onClose: () => setOpen(false) }) : null,
  );
}

// The input the way a user's typing reaches React: the native value setter,
// then an `input` event (React's onChange listens to it).
function typeInto(id, text) {
  const el = document.getElementById(id);
  const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), 'value').set;
  setter.call(el, text);
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

// Steps for the corpus test; each ends with React's render committed.
window.reactSteps = {
  type() {
    typeInto('name', 'Ada Lovelace');
    document.getElementById('agree').click();
    flushSync(() => api.setSize('l'));
    return true;
  },
  portal() {
    flushSync(() => {
      api.setItems((xs) => [...xs, { id: 3, text: 'third' }, { id: 4, text: 'fourth' }]);
      api.setOpen(true);
    });
    return true;
  },
  reorder() {
    flushSync(() => {
      api.setItems((xs) => [...xs].reverse().filter((x) => x.id !== 2));
      api.setOpen(false);
    });
    return true;
  },
};

const root = createRoot(document.getElementById('root'));
flushSync(() => root.render(h(App)));
window.reactReady = true;
