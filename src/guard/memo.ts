// Memos keyed by what clients send (addresses, URLs) must stay bounded. The
// bound is the cheapest one: a full memo is emptied before the next entry.
export function remember<K, V> (memo: Map<K, V>, max: number, key: K, value: V): V {
  if (memo.size >= max) memo.clear()
  memo.set(key, value)
  return value
}
