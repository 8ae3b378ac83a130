/*
 * Node ids: a node gets an id when first serialised and keeps it while it
 * moves; ids are never reused within a page's recording.
 */

export function idOf(r, node) {
  return r.ids.get(node) || 0;
}

export function assignId(r, node) {
  var id = r.ids.get(node);
  if (!id) {
    id = r.nextId++;
    r.ids.set(node, id);
  }
  return id;
}
