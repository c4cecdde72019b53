# Finds the ```yaml blocks of a Markdown file that quote a file of k8s/: the
# paragraph just before the block names exactly one such file in backticks
# (`k8s/x.yaml`, or a name unique under k8s/). Prints, per block,
#   OK|BAD <md>:<line> <file> [reason]
# BAD when the block is neither the whole file nor a contiguous run of its
# lines, or is not the whole file though the paragraph says "in full".
# Usage: awk -v files="k8s/a.yaml k8s/b.yaml ..." -f quotes.awk doc.md
BEGIN {
    n = split(files, list, " ")
    for (i = 1; i <= n; i++) {
        base = list[i]; sub(/.*\//, "", base)
        count[base]++; bybase[base] = list[i]; known[list[i]] = 1
    }
}
function quoted(para,    s, name, found, nfound) {
    s = para; nfound = 0; found = ""
    while (match(s, /`[A-Za-z0-9_.\/-]+\.yaml`/)) {
        name = substr(s, RSTART + 1, RLENGTH - 2)
        s = substr(s, RSTART + RLENGTH)
        if (!(name in known)) {
            if (count[name] != 1) continue
            name = bybase[name]
        }
        if (name != found) { nfound++; found = name }
    }
    return nfound == 1 ? found : ""
}
function check(path, start, full,    line, nf, k, j, ok, rc) {
    nf = 0
    while ((rc = getline line < path) > 0) F[++nf] = line
    close(path)
    if (rc < 0) { print "BAD " FILENAME ":" start " " path " cannot read it"; return }
    if (nb == nf) {
        ok = 1
        for (j = 1; j <= nb; j++) if (B[j] != F[j]) { ok = 0; break }
        if (ok) { print "OK " FILENAME ":" start " " path; return }
    }
    if (full) { print "BAD " FILENAME ":" start " " path " says in full but differs from the file"; return }
    for (k = 0; k + nb <= nf; k++) {
        ok = 1
        for (j = 1; j <= nb; j++) if (B[j] != F[k + j]) { ok = 0; break }
        if (ok) { print "OK " FILENAME ":" start " " path; return }
    }
    print "BAD " FILENAME ":" start " " path " is neither the file nor a part of it"
}
FNR == 1 { para = ""; last = ""; inblock = 0 }
inblock && /^```/ { inblock = 0; if (target != "") check(target, start, full); next }
inblock { B[++nb] = $0; next }
/^```yaml/ {
    inblock = 1; nb = 0; start = FNR
    if (para != "") last = para
    target = quoted(last); full = (last ~ /in full/)
    para = ""
    next
}
/^$/ { if (para != "") last = para; para = ""; next }
{ para = para " " $0; last = "" }
