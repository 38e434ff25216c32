#!/usr/bin/env bash
# scripts/bt_cycles.sh — the file-level call graph inside bt/, from the
# objects' symbol tables: file A → file B when A.o uses (nm: U) a symbol
# B.o defines. Prints the graph and exits 1 if it has a cycle (printed),
# so bt/ stays layered as bt/bt.h says. Needs a build (make).
set -u
cd "$(dirname "$0")/.."
OBJ=${1:-build/obj/bt}
ls "$OBJ"/*.o >/dev/null 2>&1 || { echo "bt_cycles: no objects in $OBJ (run make first)" >&2; exit 2; }
for o in "$OBJ"/*.o; do
    f=$(basename "$o" .o)
    # skip objects left over from sources that no longer exist
    [ -e "bt/$f.c" ] || [ -e "bt/$f.S" ] || continue
    nm "$o" | awk -v f="$f" '$1 == "U" { print "U", f, $2; next }
                             NF == 3 && $2 ~ /^[A-Z]$/ && $2 != "U" { print "D", f, $3 }'
done | awk '
    $1 == "D" { def[$3] = $2; next }
    { use[++n] = $2 " " $3 }
    END {
        for (i = 1; i <= n; i++) {
            split(use[i], u, " ")
            if ((u[2] in def) && def[u[2]] != u[1]) {
                e = u[1] " " def[u[2]]
                if (!(e in seen)) { seen[e] = 1; edges[++m] = e }
                why[e] = why[e] (why[e] == "" ? "" : " ") u[2]
            }
        }
        for (i = 1; i <= m; i++) {
            split(edges[i], p, " ")
            print p[1] " -> " p[2] ": " why[edges[i]]
            adj[p[1]] = adj[p[1]] " " p[2]
            nodes[p[1]] = 1; nodes[p[2]] = 1
        }
        # depth-first search; a grey node reached again closes a cycle
        found = 0
        for (v in nodes) if (!found && color[v] == 0) found = dfs(v, 0)
        exit found
    }
    function dfs(v, d,    k, nb, w, j, s) {
        color[v] = 1; stack[d] = v
        k = split(adj[v], nb, " ")
        for (j = 1; j <= k; j++) {
            w = nb[j]
            if (color[w] == 1) {
                s = w
                for (i2 = d; i2 >= 0 && stack[i2] != w; i2--) ;
                s = ""
                for (; i2 <= d; i2++) s = s stack[i2] " -> "
                print "bt_cycles: cycle: " s w > "/dev/stderr"
                return 1
            }
            if (color[w] == 0 && dfs(w, d + 1)) return 1
        }
        color[v] = 2
        return 0
    }'
st=$?
[ "$st" -eq 0 ] && echo "bt_cycles: no cycles"
exit "$st"
