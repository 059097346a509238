/* Events' export lines parsed into Arrow column buffers in C, with the GIL released: the Python path's work per
 * record (orjson.loads, the split into own fields and DataFields, DataFields' serialisation, the stable Id's
 * SHA-256) done without a Python object per record. Users' lines the same way (UserBuilder, "users' export
 * lines" below), for the columns a read is given.
 *
 * The one rule that keeps it honest: this scanner takes a line only when it is certain to give exactly the bytes
 * the Python path gives (objects/events_arrow.py: orjson's output, identity_hash's Id). Anything else -- a number
 * orjson would rewrite (2.50, 1e5, -0, more than 15 significant digits), a duplicate key, a lone surrogate, invalid
 * UTF-8, an own field of an unexpected type, a createdAt not of the exports' form, a line that is not one JSON
 * object -- stops the scan before that line and hands it back ("odd"), and the Python path reads it (repairing or
 * quarantining it when it is malformed). docs/ARCHITECTURE.md, "Events parsed in C".
 *
 * SHA-256 comes from the process's libcrypto (the library Python's hashlib uses), found with dlopen at import:
 * without it the module does not import and the Python path is used.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* OpenSSL's low-level SHA-256 (its one-shot SHA256() looks the digest up through its providers at every call,
 * taking a lock: a fifth of the scan's time). The context is opaque here: 112 bytes in OpenSSL 1.1 and 3. */
typedef struct {
    _Alignas(16) unsigned char opaque[256];
} Sha256Context;
typedef int (*sha256_init_fn)(Sha256Context *context);
typedef int (*sha256_update_fn)(Sha256Context *context, const void *data, size_t length);
typedef int (*sha256_final_fn)(unsigned char *digest, Sha256Context *context);
static sha256_init_fn sha256_init = NULL;
static sha256_update_fn sha256_update = NULL;
static sha256_final_fn sha256_final = NULL;

static void sha256(const unsigned char *data, size_t length, unsigned char *digest) {
    Sha256Context context;
    sha256_init(&context);
    sha256_update(&context, data, length);
    sha256_final(digest, &context);
}

/* ---------------------------------------------------------------- growing byte buffers (malloc: no GIL needed) */

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static int buf_grow(Buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const void *data, size_t n) {
    if (!n) return 0; /* nothing to copy, and `data` or the buffer may be NULL */
    if (buf_grow(b, n)) return -1;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static inline int buf_byte(Buf *b, char c) {
    if (b->len == b->cap && buf_grow(b, 1)) return -1;
    b->p[b->len++] = c;
    return 0;
}

/* ---------------------------------------------------------------- a line parsed into nodes */

enum { J_NULL, J_FALSE, J_TRUE, J_INT, J_FLOAT, J_STR, J_ARR, J_OBJ };

typedef struct {
    uint8_t type;
    uint8_t plain, key_plain; /* the text is the line's own bytes, written back as they are (no escape) */
    const char *key;          /* an object member's key, decoded UTF-8 (in the line, or in the text scratch) */
    uint32_t key_len;
    const char *str; /* a string: its decoded text; a number: its (canonical) text in the line */
    uint32_t len;
    uint32_t first, count; /* a container: its children in the arena, contiguous */
} Node;

typedef struct {
    Node *p;
    size_t len, cap;
} Nodes;

static inline int nodes_push(Nodes *n, const Node *node) {
    if (n->len == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 256;
        Node *p = realloc(n->p, cap * sizeof(Node));
        if (!p) return -1;
        n->p = p;
        n->cap = cap;
    }
    n->p[n->len++] = *node;
    return 0;
}

typedef struct {
    const unsigned char *line, *s, *end;
    Buf text;    /* decoded strings and keys */
    Nodes stack; /* nodes of containers still open */
    Nodes arena; /* nodes of closed containers, children contiguous */
    int depth;
    int oom;
} Parser;

enum { OK = 0, ODD = 1, NOMEM = 2 };
#define MAX_DEPTH 128

static inline void skip_ws(Parser *ps) {
    while (ps->s < ps->end && (*ps->s == ' ' || *ps->s == '\t' || *ps->s == '\r' || *ps->s == '\n')) ps->s++;
}

static int hex4(const unsigned char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static int put_utf8(Buf *b, unsigned cp) {
    char out[4];
    size_t n;
    if (cp < 0x80) { out[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    return buf_put(b, out, n);
}

/* Bytes a string's run stops at: when parsing, a quote, a backslash, a control character or a non-ASCII byte;
 * when writing, a quote, a backslash or a control character. */
static unsigned char stops_parse[256], stops_write[256];

static void init_tables(void) {
    for (int c = 0; c < 256; c++) {
        stops_parse[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
        stops_write[c] = c == '"' || c == '\\' || c < 0x20;
    }
}

/* The length of one valid UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates), or 0. */
static size_t utf8_sequence(const unsigned char *s, const unsigned char *end) {
    unsigned c = s[0];
    if (c >= 0xC2 && c <= 0xDF) return (end - s >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - s < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;
        if (c == 0xED && s[1] >= 0xA0) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - s < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;
        if (c == 0xF4 && s[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

/* A string at ps->s (on its opening quote), decoded: *text, *len. Without an escape, the line's own bytes
 * (*plain: written back as they are, since they hold no quote, backslash or control character); with one,
 * decoded into the text scratch, which holds the whole line's worth from its start (a decoded string is never
 * longer than its JSON), so the texts never move while a line is parsed. */
static int parse_string(Parser *ps, const char **text, uint32_t *len, uint8_t *plain) {
    const unsigned char *s = ps->s + 1, *end = ps->end, *first = s;
    for (;;) {
        while (s < end && !stops_parse[*s]) s++;
        if (s >= end) return ODD;
        if (*s == '"') {
            *text = (const char *)first;
            *len = (uint32_t)(s - first);
            *plain = 1;
            ps->s = s + 1;
            return OK;
        }
        if (*s == '\\') break;
        if (*s < 0x20) return ODD;
        size_t n = utf8_sequence(s, end);
        if (!n) return ODD;
        s += n;
    }
    *plain = 0;
    Buf *t = &ps->text;
    size_t start = t->len;
    if (buf_put(t, first, s - first)) return NOMEM;
    for (;;) {
        const unsigned char *run = s;
        while (s < end && !stops_parse[*s]) s++;
        if (s > run && buf_put(t, run, s - run)) return NOMEM;
        if (s >= end) return ODD;
        unsigned c = *s;
        if (c == '"') break;
        if (c < 0x20) return ODD;
        if (c >= 0x80) {
            size_t n = utf8_sequence(s, end);
            if (!n) return ODD;
            if (buf_put(t, s, n)) return NOMEM;
            s += n;
            continue;
        }
        /* an escape */
        if (end - s < 2) return ODD;
        unsigned e = s[1];
        char plain;
        switch (e) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': {
            unsigned cp, low;
            if (end - s < 6 || hex4(s + 2, &cp)) return ODD;
            s += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return ODD;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - s < 6 || s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &low)) return ODD;
                if (low < 0xDC00 || low > 0xDFFF) return ODD;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                s += 6;
            }
            if (put_utf8(t, cp)) return NOMEM;
            continue;
        }
        default: return ODD;
        }
        if (buf_byte(t, plain)) return NOMEM;
        s += 2;
    }
    if (t->len - start > UINT32_MAX) return ODD;
    *text = t->p + start;
    *len = (uint32_t)(t->len - start);
    ps->s = s + 1;
    return OK;
}

/* A number whose text orjson writes back unchanged, else ODD: an integer of at most 18 digits (not -0), or a
 * decimal fraction without exponent, of at most 15 significant digits (then it is the shortest text of its double,
 * which is what orjson writes), without trailing zeros but for a lone ".0", and not below 0.0001. */
static int parse_number(Parser *ps, Node *node) {
    const unsigned char *s = ps->s, *end = ps->end, *start = s;
    int negative = 0;
    if (s < end && *s == '-') { negative = 1; s++; }
    const unsigned char *integer = s;
    if (s < end && *s == '0') s++;
    else if (s < end && *s >= '1' && *s <= '9') while (s < end && *s >= '0' && *s <= '9') s++;
    else return ODD;
    size_t int_digits = s - integer;
    int fraction = 0;
    const unsigned char *frac = NULL;
    size_t frac_digits = 0;
    if (s < end && *s == '.') {
        fraction = 1;
        frac = ++s;
        while (s < end && *s >= '0' && *s <= '9') s++;
        frac_digits = s - frac;
        if (!frac_digits) return ODD;
    }
    if (s < end && (*s == 'e' || *s == 'E')) return ODD;
    if (!fraction) {
        if (int_digits > 18 || (negative && int_digits == 1 && integer[0] == '0')) return ODD;
        node->type = J_INT;
    } else {
        if (frac[frac_digits - 1] == '0' && !(frac_digits == 1)) return ODD;
        size_t significant;
        if (integer[0] == '0') {
            size_t zeros = 0;
            while (zeros < frac_digits && frac[zeros] == '0') zeros++;
            if (zeros == frac_digits) significant = 0; /* 0.0 */
            else {
                if (zeros > 3) return ODD;
                significant = frac_digits - zeros;
            }
        } else {
            significant = int_digits + frac_digits;
            if (frac_digits == 1 && frac[0] == '0') significant = int_digits;
        }
        if (significant > 15) return ODD;
        node->type = J_FLOAT;
    }
    node->str = (const char *)start;
    node->len = (uint32_t)(s - start);
    ps->s = s;
    return OK;
}

static int parse_value(Parser *ps, Node *node);

/* A container's children, parsed onto the stack, then moved to the arena in one piece. */
static int parse_container(Parser *ps, Node *node, int object) {
    unsigned char close = object ? '}' : ']';
    size_t base = ps->stack.len;
    int r;
    if (++ps->depth > MAX_DEPTH) return ODD;
    ps->s++;
    skip_ws(ps);
    if (ps->s < ps->end && *ps->s == close) {
        ps->s++;
    } else {
        for (;;) {
            Node child;
            const char *key = NULL;
            uint32_t key_len = 0;
            uint8_t key_plain = 0;
            if (object) {
                if (ps->s >= ps->end || *ps->s != '"') return ODD;
                if ((r = parse_string(ps, &key, &key_len, &key_plain))) return r;
                skip_ws(ps);
                if (ps->s >= ps->end || *ps->s != ':') return ODD;
                ps->s++;
                skip_ws(ps);
            }
            if ((r = parse_value(ps, &child))) return r;
            child.key = key;
            child.key_len = key_len;
            child.key_plain = key_plain;
            if (nodes_push(&ps->stack, &child)) return NOMEM;
            skip_ws(ps);
            if (ps->s >= ps->end) return ODD;
            if (*ps->s == ',') {
                ps->s++;
                skip_ws(ps);
                continue;
            }
            if (*ps->s != close) return ODD;
            ps->s++;
            break;
        }
    }
    size_t count = ps->stack.len - base;
    node->type = object ? J_OBJ : J_ARR;
    node->first = (uint32_t)ps->arena.len;
    node->count = (uint32_t)count;
    for (size_t i = 0; i < count; i++)
        if (nodes_push(&ps->arena, &ps->stack.p[base + i])) return NOMEM;
    ps->stack.len = base;
    ps->depth--;
    return OK;
}

static int literal(Parser *ps, const char *word, size_t n) {
    if ((size_t)(ps->end - ps->s) < n || memcmp(ps->s, word, n)) return ODD;
    ps->s += n;
    return OK;
}

static int parse_value(Parser *ps, Node *node) {
    memset(node, 0, sizeof(*node));
    if (ps->s >= ps->end) return ODD;
    switch (*ps->s) {
    case '{': return parse_container(ps, node, 1);
    case '[': return parse_container(ps, node, 0);
    case '"': node->type = J_STR; return parse_string(ps, &node->str, &node->len, &node->plain);
    case 't': node->type = J_TRUE; return literal(ps, "true", 4);
    case 'f': node->type = J_FALSE; return literal(ps, "false", 5);
    case 'n': node->type = J_NULL; return literal(ps, "null", 4);
    default: return parse_number(ps, node);
    }
}

/* ---------------------------------------------------------------- writing JSON as orjson writes it */

static const char HEX[] = "0123456789abcdef";

static int write_string(Buf *out, const char *s, size_t n) {
    if (buf_grow(out, n + 2)) return -1;
    out->p[out->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (i < n && !stops_write[(unsigned char)s[i]]) i++;
        if (i > run && buf_put(out, s + run, i - run)) return -1;
        if (i >= n) break;
        unsigned char c = (unsigned char)s[i++];
        char escaped[6] = {'\\', 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (c) {
        case '"': escaped[1] = '"'; break;
        case '\\': escaped[1] = '\\'; break;
        case '\b': escaped[1] = 'b'; break;
        case '\t': escaped[1] = 't'; break;
        case '\n': escaped[1] = 'n'; break;
        case '\f': escaped[1] = 'f'; break;
        case '\r': escaped[1] = 'r'; break;
        default:
            escaped[1] = 'u'; escaped[2] = '0'; escaped[3] = '0';
            escaped[4] = HEX[c >> 4]; escaped[5] = HEX[c & 15];
            len = 6;
        }
        if (buf_put(out, escaped, len)) return -1;
    }
    return buf_byte(out, '"');
}

static inline int compare_keys(const Node *a, const Node *b) {
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    if (n && a->key[0] != b->key[0]) return (unsigned char)a->key[0] < (unsigned char)b->key[0] ? -1 : 1;
    int c = memcmp(a->key, b->key, n);
    if (c) return c;
    return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

/* Members (indexes into nodes) sorted by key with insertion sort (objects are small); 1 when two keys are equal. */
static int sort_members(const Node *nodes, uint32_t *order, size_t n) {
    for (size_t i = 1; i < n; i++) {
        uint32_t item = order[i];
        size_t j = i;
        while (j > 0) {
            int c = compare_keys(&nodes[order[j - 1]], &nodes[item]);
            if (c == 0) return 1;
            if (c < 0) break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = item;
    }
    return 0;
}

/* A string known to need no escape (plain) is copied between its quotes. */
static inline int write_text(Buf *out, const char *s, size_t n, int plain) {
    if (!plain) return write_string(out, s, n);
    if (buf_grow(out, n + 2)) return -1;
    char *p = out->p + out->len;
    p[0] = '"';
    memcpy(p + 1, s, n);
    p[n + 1] = '"';
    out->len += n + 2;
    return 0;
}

typedef struct {
    Parser *ps;
    Buf order; /* uint32 member indexes, a stack of them while writing nested objects */
    int ascii; /* strings as Python's json.dumps writes them (ensure_ascii), not as orjson does */
} Writer;

/* A string as json.dumps writes it by default: every byte outside ' '..'~' escaped, non-ASCII characters as
 * \uXXXX (lower-case hex, a surrogate pair beyond the BMP). The text is valid UTF-8 (parse_string checked it). */
static int write_ascii_string(Buf *out, const char *text, size_t n) {
    const unsigned char *s = (const unsigned char *)text;
    if (buf_byte(out, '"')) return -1;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (i < n && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') i++;
        if (i > run && buf_put(out, s + run, i - run)) return -1;
        if (i >= n) break;
        unsigned c = s[i], units[2], count = 1;
        char escaped[12];
        size_t len = 2;
        escaped[0] = '\\';
        if (c == '"' || c == '\\') escaped[1] = (char)c;
        else if (c == '\n') escaped[1] = 'n';
        else if (c == '\r') escaped[1] = 'r';
        else if (c == '\t') escaped[1] = 't';
        else if (c == '\b') escaped[1] = 'b';
        else if (c == '\f') escaped[1] = 'f';
        else len = 0;
        if (len) {
            i++;
        } else {
            unsigned cp = c;
            size_t width = 1;
            if (c >= 0xF0) cp = c & 7, width = 4;
            else if (c >= 0xE0) cp = c & 15, width = 3;
            else if (c >= 0xC0) cp = c & 31, width = 2;
            for (size_t k = 1; k < width && i + k < n; k++) cp = (cp << 6) | (s[i + k] & 63);
            i += width;
            units[0] = cp;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                units[0] = 0xD800 + (cp >> 10);
                units[1] = 0xDC00 + (cp & 0x3FF);
                count = 2;
            }
            for (unsigned u = 0; u < count; u++) {
                char *e = escaped + len;
                e[0] = '\\', e[1] = 'u';
                for (int k = 0; k < 4; k++) e[2 + k] = HEX[(units[u] >> (12 - 4 * k)) & 15];
                len += 6;
            }
        }
        if (buf_put(out, escaped, len)) return -1;
    }
    return buf_byte(out, '"');
}

/* A key or a string value, as the writer writes strings. */
static inline int write_string_as(const Writer *w, Buf *out, const char *s, size_t n, int plain) {
    return w->ascii ? write_ascii_string(out, s, n) : write_text(out, s, n, plain);
}

static int write_value(Writer *w, Buf *out, const Node *node, int sorted);

/* An object of `count` members whose nodes are at `members` (indexes into the arena). */
static int write_members(Writer *w, Buf *out, const uint32_t *members, size_t count, int sorted) {
    if (!count) return buf_put(out, "{}", 2) ? NOMEM : OK; /* the order buffer may be NULL yet */
    const Node *nodes = w->ps->arena.p;
    size_t base = w->order.len;
    if (buf_grow(&w->order, count * sizeof(uint32_t))) return NOMEM;
    uint32_t *order = (uint32_t *)(w->order.p + base);
    memcpy(order, members, count * sizeof(uint32_t));
    w->order.len += count * sizeof(uint32_t);
    if (sort_members(nodes, order, count)) return ODD; /* a duplicate key: dict semantics, left to Python */
    if (!sorted) memcpy(order, members, count * sizeof(uint32_t));
    if (buf_byte(out, '{')) return NOMEM;
    for (size_t i = 0; i < count; i++) {
        /* re-read: writing a nested object may move the order buffer */
        uint32_t index = ((uint32_t *)(w->order.p + base))[i];
        const Node *member = &w->ps->arena.p[index];
        if (i && buf_byte(out, ',')) return NOMEM;
        if (write_string_as(w, out, member->key, member->key_len, member->key_plain) || buf_byte(out, ':'))
            return NOMEM;
        int r = write_value(w, out, member, sorted);
        if (r) return r;
    }
    w->order.len = base;
    return buf_byte(out, '}') ? NOMEM : OK;
}

static int write_value(Writer *w, Buf *out, const Node *node, int sorted) {
    switch (node->type) {
    case J_NULL: return buf_put(out, "null", 4) ? NOMEM : OK;
    case J_TRUE: return buf_put(out, "true", 4) ? NOMEM : OK;
    case J_FALSE: return buf_put(out, "false", 5) ? NOMEM : OK;
    case J_INT:
    case J_FLOAT: return buf_put(out, node->str, node->len) ? NOMEM : OK;
    case J_STR: return write_string_as(w, out, node->str, node->len, node->plain) ? NOMEM : OK;
    case J_ARR: {
        if (buf_byte(out, '[')) return NOMEM;
        for (uint32_t i = 0; i < node->count; i++) {
            if (i && buf_byte(out, ',')) return NOMEM;
            /* the arena does not move while writing */
            int r = write_value(w, out, &w->ps->arena.p[node->first + i], sorted);
            if (r) return r;
        }
        return buf_byte(out, ']') ? NOMEM : OK;
    }
    default: {
        if (!node->count) return buf_put(out, "{}", 2) ? NOMEM : OK;
        uint32_t small[64];
        uint32_t *members = node->count <= 64 ? small : malloc(node->count * sizeof(uint32_t));
        if (!members) return NOMEM;
        for (uint32_t i = 0; i < node->count; i++) members[i] = node->first + i;
        int r = write_members(w, out, members, node->count, sorted);
        if (members != small) free(members);
        return r;
    }
    }
}

/* ---------------------------------------------------------------- columns */

/* The kinds of column every function here takes or builds, by catalog type (objects/arrow.C_KINDS). */
enum { KIND_TEXT, KIND_JSON, KIND_INTEGER, KIND_REAL, KIND_BOOLEAN, KIND_TIMESTAMP, KINDS };

typedef struct {
    Buf offsets; /* int32, one more than the rows */
    Buf data;
    Buf valid; /* one byte a row */
    size_t nulls;
} TextColumn;

typedef struct {
    Buf values; /* int64 */
    Buf valid;
    size_t nulls;
} IntColumn;

static int text_start(TextColumn *c) {
    int32_t zero = 0;
    c->offsets.len = c->data.len = c->valid.len = 0;
    c->nulls = 0;
    return buf_put(&c->offsets, &zero, 4);
}

static int text_add(TextColumn *c, const char *s, size_t n, int valid) {
    if (valid && buf_put(&c->data, s, n)) return -1;
    if (c->data.len > INT32_MAX) return -1;
    int32_t end = (int32_t)c->data.len;
    if (!valid) c->nulls++;
    return buf_put(&c->offsets, &end, 4) || buf_byte(&c->valid, (char)valid);
}

static int int_add(IntColumn *c, int64_t value, int valid) {
    if (!valid) { c->nulls++; value = 0; }
    return buf_put(&c->values, &value, 8) || buf_byte(&c->valid, (char)valid);
}

enum { C_ID, C_NAME, C_EMAIL, C_USER, C_MESSAGE, C_DATA, TEXTS };
enum { I_CREATED, I_CAMPAIGN, I_TEMPLATE, INTS };

typedef struct {
    PyObject_HEAD
    TextColumn texts[TEXTS];
    IntColumn ints[INTS];
    size_t rows;
    int busy;         /* a scan runs (without the GIL): another call on this builder is refused */
    char *event_type; /* UTF-8 */
    size_t event_type_len;
    int sort_keys;
    Parser ps;
    Writer w;
    Buf identity, sorted_data;
    Buf members; /* uint32 indexes of DataFields' members */
} Builder;

/* ---------------------------------------------------------------- one record */

/* A line parsed as one JSON object (*top) with no key given twice at its top (dict semantics, left to Python):
 * OK, ODD, NOMEM; *blank (and *top unset) when it holds only whitespace. */
static int parse_line(Parser *ps, const unsigned char *line, size_t n, int *blank, Node *top) {
    ps->line = ps->s = line;
    ps->end = line + n;
    ps->text.len = ps->stack.len = ps->arena.len = 0;
    if (buf_grow(&ps->text, n)) return NOMEM; /* decoded strings never move while the line is parsed */
    ps->depth = 0;
    *blank = 0;
    skip_ws(ps);
    if (ps->s == ps->end) { *blank = 1; return OK; }
    if (*ps->s != '{') return ODD;
    int r = parse_value(ps, top);
    if (r) return r;
    skip_ws(ps);
    if (ps->s != ps->end) return ODD;
    uint32_t small[128];
    uint32_t *order = top->count <= 128 ? small : malloc(top->count * sizeof(uint32_t));
    if (!order) return NOMEM;
    for (uint32_t i = 0; i < top->count; i++) order[i] = top->first + i;
    int duplicate = sort_members(ps->arena.p, order, top->count);
    if (order != small) free(order);
    return duplicate ? ODD : OK;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "YYYY-MM-DD HH:MM:SS +00:00", a real moment: its microseconds since the epoch and its isoformat(). */
static int export_moment(const char *t, size_t n, int64_t *micros, char iso[25]) {
    int y, mo, d, h, mi, se;
    static const int days_in[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n != 26 || t[4] != '-' || t[7] != '-' || t[10] != ' ' || t[13] != ':' || t[16] != ':' ||
        memcmp(t + 19, " +00:00", 7))
        return -1;
    if (digits(t, 4, &y) || digits(t + 5, 2, &mo) || digits(t + 8, 2, &d) || digits(t + 11, 2, &h) ||
        digits(t + 14, 2, &mi) || digits(t + 17, 2, &se))
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > days_in[mo - 1] + (mo == 2 && leap)) return -1;
    *micros = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400) + h * 3600 + mi * 60 + se) * 1000000LL;
    memcpy(iso, t, 10);
    iso[10] = 'T';
    memcpy(iso + 11, t + 11, 8);
    memcpy(iso + 19, "+00:00", 6);
    return 0;
}


enum { F_EVENT_NAME, F_EMAIL, F_USER_ID, F_CREATED_AT, F_CAMPAIGN_ID, F_TEMPLATE_ID, F_MESSAGE_ID, F_ID,
       F_DATA_FIELDS, F_LEFT_OUT, F_NONE };
static const char *const FIELD_NAMES[] = {"eventName", "email", "userId", "createdAt", "campaignId", "templateId",
                                          "messageId", "id", "dataFields", "_type", "eventType", "itblInternal",
                                          "eventUpdatedAt", NULL};

static size_t field_lengths[sizeof(FIELD_NAMES) / sizeof(FIELD_NAMES[0])];

static int own_field(const Node *n) {
    const char *key = n->key;
    for (int i = 0; FIELD_NAMES[i]; i++)
        if (n->key_len == field_lengths[i] && key[0] == FIELD_NAMES[i][0] && !memcmp(key, FIELD_NAMES[i], n->key_len))
            return i < F_LEFT_OUT ? i : F_LEFT_OUT;
    return F_NONE;
}

/* A text column's value from a field: a string, or null when absent or null; (for userId) an integer's digits. */
static int text_of(const Node *n, int integers, const char **s, size_t *len) {
    if (!n || n->type == J_NULL) { *s = NULL; return OK; }
    if (n->type == J_STR || (integers && n->type == J_INT)) { *s = n->str; *len = n->len; return OK; }
    return ODD;
}

static int int_of(const Node *n, int64_t *value, int *valid) {
    *valid = 0;
    if (!n || n->type == J_NULL) return OK;
    if (n->type != J_INT) return ODD;
    const char *s = n->str;
    int64_t v = 0;
    size_t i = s[0] == '-';
    for (; i < n->len; i++) v = v * 10 + (s[i] - '0');
    *value = s[0] == '-' ? -v : v;
    *valid = 1;
    return OK;
}

static int identity_text(Buf *out, const char *s, size_t n) {
    if (!s) return buf_put(out, "null", 4);
    return write_string(out, s, n);
}

/* What one line holds, read by read_line: the columns' values (texts point into the line or the parser's
 * scratch, valid until the next line), DataFields' members (indexes into the parser's arena, in b->members). */
typedef struct {
    const char *name, *email, *user, *message, *id;
    size_t name_len, email_len, user_len, message_len, id_len;
    int64_t created, campaign, template;
    int campaign_valid, template_valid;
    char hex[32];
} Record;

/* One line read into *rec: OK, ODD (nothing taken), NOMEM; *blank when it holds only whitespace. DataFields'
 * text goes to `data_out` (sorted or as sent, as the builder says) when given; the sorted text is made anyway
 * when the Id is hashed from it. */
static int read_line(Builder *b, const unsigned char *line, size_t n, int *blank, Buf *data_out, Record *rec) {
    Parser *ps = &b->ps;
    Node top;
    b->w.order.len = 0;
    int r = parse_line(ps, line, n, blank, &top);
    if (r || *blank) return r;

    const Node *fields[F_LEFT_OUT] = {0};
    Buf *members = &b->members;
    members->len = 0;
    for (uint32_t i = 0; i < top.count; i++) {
        uint32_t index = top.first + i;
        const Node *member = &ps->arena.p[index];
        int field = own_field(member);
        if (field == F_NONE) {
            if (buf_put(members, &index, 4)) return NOMEM;
        } else if (field != F_LEFT_OUT) {
            fields[field] = member;
        }
    }
    const Node *data_fields = fields[F_DATA_FIELDS];
    if (data_fields && data_fields->type == J_OBJ) {
        /* merged over the other fields as dict.update: a key already there keeps its place, takes the value */
        for (uint32_t i = 0; i < data_fields->count; i++) {
            uint32_t index = data_fields->first + i;
            const Node *member = &ps->arena.p[index];
            size_t found = (size_t)-1;
            uint32_t *list = (uint32_t *)members->p;
            size_t now = members->len / 4;
            for (size_t j = 0; j < now; j++) {
                const Node *other = &ps->arena.p[list[j]];
                if (other->key_len == member->key_len &&
                    !memcmp(other->key, member->key, member->key_len)) {
                    found = j;
                    break;
                }
            }
            if (found != (size_t)-1) list[found] = index;
            else if (buf_put(members, &index, 4)) return NOMEM;
        }
    }

    const char *name, *email, *user, *message;
    size_t name_len = 0, email_len = 0, user_len = 0, message_len = 0;
    int64_t created = 0, campaign = 0, template = 0;
    int campaign_valid, template_valid;
    char iso[25];
    if ((r = text_of(fields[F_EVENT_NAME], 0, &name, &name_len)) ||
        (r = text_of(fields[F_EMAIL], 0, &email, &email_len)) ||
        (r = text_of(fields[F_USER_ID], 1, &user, &user_len)) ||
        (r = text_of(fields[F_MESSAGE_ID], 0, &message, &message_len)) ||
        (r = int_of(fields[F_CAMPAIGN_ID], &campaign, &campaign_valid)) ||
        (r = int_of(fields[F_TEMPLATE_ID], &template, &template_valid)))
        return r;
    const Node *created_at = fields[F_CREATED_AT];
    if (!created_at || created_at->type != J_STR ||
        export_moment(created_at->str, created_at->len, &created, iso))
        return ODD;
    /* Iterable's id, when it has a true value; otherwise the stable hash */
    const Node *id = fields[F_ID];
    int hashed = 1;
    if (id && id->type == J_STR && id->len) hashed = 0;
    else if (id && id->type == J_INT && !(id->len == 1 && id->str[0] == '0')) hashed = 0;
    else if (id && !(id->type == J_NULL || id->type == J_FALSE || id->type == J_STR || id->type == J_INT)) return ODD;

    size_t data_start = data_out ? data_out->len : 0;
    uint32_t *list = (uint32_t *)members->p;
    size_t count = members->len / 4;
    /* copied: write_members may be given the members buffer's memory otherwise */
    uint32_t small[128];
    uint32_t *copy = count <= 128 ? small : malloc((count ? count : 1) * sizeof(uint32_t));
    if (!copy) return NOMEM;
    if (count) memcpy(copy, list, count * sizeof(uint32_t));
    const char *sorted_text = NULL;
    size_t sorted_len = 0;
    r = OK;
    if (data_out && b->sort_keys) {
        r = write_members(&b->w, data_out, copy, count, 1);
        sorted_text = data_out->p + data_start;
        sorted_len = data_out->len - data_start;
    } else {
        if (data_out) r = write_members(&b->w, data_out, copy, count, 0);
        if (!r && hashed) {
            b->sorted_data.len = 0;
            r = write_members(&b->w, &b->sorted_data, copy, count, 1);
            sorted_text = b->sorted_data.p;
            sorted_len = b->sorted_data.len;
        }
    }
    if (copy != small) free(copy);
    if (r) {
        if (data_out) data_out->len = data_start;
        return r;
    }

    char *hex = rec->hex;
    const char *id_text;
    size_t id_len;
    if (hashed) {
        Buf *t = &b->identity;
        t->len = 0;
        unsigned char digest[32];
        if (buf_byte(t, '[') || write_string(t, b->event_type, b->event_type_len) || buf_byte(t, ',') ||
            write_string(t, iso, 25) || buf_byte(t, ',') || identity_text(t, email, email_len) ||
            buf_byte(t, ',') || identity_text(t, user, user_len) || buf_byte(t, ',') ||
            identity_text(t, name, name_len) || buf_byte(t, ','))
            goto nomem;
        if (campaign_valid ? buf_put(t, fields[F_CAMPAIGN_ID]->str, fields[F_CAMPAIGN_ID]->len)
                           : buf_put(t, "null", 4))
            goto nomem;
        if (buf_byte(t, ',')) goto nomem;
        if (template_valid ? buf_put(t, fields[F_TEMPLATE_ID]->str, fields[F_TEMPLATE_ID]->len)
                           : buf_put(t, "null", 4))
            goto nomem;
        if (buf_byte(t, ',') || identity_text(t, message, message_len) || buf_byte(t, ',') ||
            buf_put(t, sorted_text, sorted_len) || buf_byte(t, ']'))
            goto nomem;
        sha256((const unsigned char *)t->p, t->len, digest);
        for (int i = 0; i < 16; i++) {
            hex[2 * i] = HEX[digest[i] >> 4];
            hex[2 * i + 1] = HEX[digest[i] & 15];
        }
        id_text = hex;
        id_len = 32;
    } else {
        id_text = id->str;
        id_len = id->len;
    }
    rec->name = name, rec->name_len = name_len, rec->email = email, rec->email_len = email_len;
    rec->user = user, rec->user_len = user_len, rec->message = message, rec->message_len = message_len;
    rec->id = id_text, rec->id_len = id_len, rec->created = created;
    rec->campaign = campaign, rec->campaign_valid = campaign_valid;
    rec->template = template, rec->template_valid = template_valid;
    return OK;
nomem:
    return NOMEM;
}

/* One line: OK with its row appended to the columns, ODD (nothing appended), NOMEM; *blank: whitespace only. */
static int scan_line(Builder *b, const unsigned char *line, size_t n, int *blank) {
    Record rec;
    TextColumn *data = &b->texts[C_DATA];
    int r = read_line(b, line, n, blank, &data->data, &rec);
    if (r || *blank) return r;
    if (data->data.len > INT32_MAX) return NOMEM;
    int32_t end = (int32_t)data->data.len;
    if (buf_put(&data->offsets, &end, 4) || buf_byte(&data->valid, 1)) return NOMEM;
    if (text_add(&b->texts[C_ID], rec.id, rec.id_len, 1) ||
        text_add(&b->texts[C_NAME], rec.name, rec.name_len, rec.name != NULL) ||
        text_add(&b->texts[C_EMAIL], rec.email, rec.email_len, rec.email != NULL) ||
        text_add(&b->texts[C_USER], rec.user, rec.user_len, rec.user != NULL) ||
        text_add(&b->texts[C_MESSAGE], rec.message, rec.message_len, rec.message != NULL) ||
        int_add(&b->ints[I_CREATED], rec.created, 1) ||
        int_add(&b->ints[I_CAMPAIGN], rec.campaign, rec.campaign_valid) ||
        int_add(&b->ints[I_TEMPLATE], rec.template, rec.template_valid))
        return NOMEM;
    b->rows++;
    return OK;
}

/* ---------------------------------------------------------------- the Builder type */

static int builder_reset(Builder *b) {
    for (int i = 0; i < TEXTS; i++)
        if (text_start(&b->texts[i])) return -1;
    for (int i = 0; i < INTS; i++) {
        b->ints[i].values.len = b->ints[i].valid.len = 0;
        b->ints[i].nulls = 0;
    }
    b->rows = 0;
    return 0;
}

static void buf_free(Buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static void Builder_dealloc(Builder *b) {
    for (int i = 0; i < TEXTS; i++) {
        buf_free(&b->texts[i].offsets);
        buf_free(&b->texts[i].data);
        buf_free(&b->texts[i].valid);
    }
    for (int i = 0; i < INTS; i++) {
        buf_free(&b->ints[i].values);
        buf_free(&b->ints[i].valid);
    }
    free(b->event_type);
    buf_free(&b->ps.text);
    free(b->ps.stack.p);
    free(b->ps.arena.p);
    buf_free(&b->w.order);
    buf_free(&b->identity);
    buf_free(&b->sorted_data);
    buf_free(&b->members);
    Py_TYPE(b)->tp_free((PyObject *)b);
}

static int Builder_init(Builder *b, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"event_type", "sort_keys", NULL};
    const char *event_type;
    Py_ssize_t length;
    int sort_keys = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s#|p", keywords, &event_type, &length, &sort_keys)) return -1;
    free(b->event_type);
    b->event_type = malloc(length ? length : 1);
    if (!b->event_type || builder_reset(b)) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(b->event_type, event_type, length);
    b->event_type_len = length;
    b->sort_keys = sort_keys;
    b->w.ps = &b->ps;
    return 0;
}

static int refuse_busy(Builder *b) {
    if (b->busy) PyErr_SetString(PyExc_RuntimeError, "this builder is scanning in another thread");
    return b->busy;
}

/* scan's arguments (block, position, max_rows), on an initialised builder not scanning now;
 * -1 with the view released when they cannot be taken. */
static int block_args(Builder *b, PyObject *args, Py_buffer *view, size_t *position, Py_ssize_t *max_rows) {
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "y*nn", view, &start, max_rows)) return -1;
    if (!b->event_type || refuse_busy(b)) {
        if (!b->event_type) PyErr_SetString(PyExc_RuntimeError, "Builder not initialised");
        PyBuffer_Release(view);
        return -1;
    }
    *position = start < 0 ? 0 : (size_t)start;
    return 0;
}

PyDoc_STRVAR(scan_doc,
             "scan(block, position, max_rows) -> (position, status, rows)\n\n"
             "Append the rows of `block`'s lines from `position` until `max_rows` rows are held (status 1), the "
             "block ends (0) or a line the scanner does not take begins at the returned position (2: read it in "
             "Python). `rows`: how many rows this call appended (blank lines are skipped).");

typedef int (*line_scanner)(void *builder, const unsigned char *line, size_t n, int *blank);

/* The scan loop of both builders, the GIL released: lines from *pos until `*rows` reaches max_rows (1), the
 * block ends (0) or `scan_line` hands a line back (2, *pos at its start); NOMEM as -1. */
static int scan_block(void *builder, line_scanner scan_line, const Py_buffer *view, size_t *pos, size_t *rows,
                      Py_ssize_t max_rows) {
    const unsigned char *block = view->buf;
    size_t size = (size_t)view->len, at = *pos;
    int status = 0, r = OK;
    Py_BEGIN_ALLOW_THREADS
    while (at < size) {
        if (*rows >= (size_t)max_rows) { status = 1; break; }
        const unsigned char *newline = memchr(block + at, '\n', size - at);
        size_t end = newline ? (size_t)(newline - block) : size;
        int blank;
        r = scan_line(builder, block + at, end - at, &blank);
        if (r == ODD) { status = 2; r = OK; break; }
        if (r) break;
        at = newline ? end + 1 : size;
    }
    Py_END_ALLOW_THREADS
    *pos = at;
    return r ? -1 : status;
}

static int scan_event_line(void *builder, const unsigned char *line, size_t n, int *blank) {
    return scan_line((Builder *)builder, line, n, blank);
}

static PyObject *Builder_scan(Builder *b, PyObject *args) {
    Py_buffer view;
    size_t pos;
    Py_ssize_t max_rows;
    if (block_args(b, args, &view, &pos, &max_rows)) return NULL;
    size_t before = b->rows;
    b->busy = 1;
    int status = scan_block(b, scan_event_line, &view, &pos, &b->rows, max_rows);
    b->busy = 0;
    PyBuffer_Release(&view);
    if (status < 0) return PyErr_NoMemory();
    return Py_BuildValue("nin", (Py_ssize_t)pos, status, (Py_ssize_t)(b->rows - before));
}

static int text_arg(PyObject *value, const char **s, Py_ssize_t *n) {
    if (value == Py_None) { *s = NULL; *n = 0; return 0; }
    *s = PyUnicode_AsUTF8AndSize(value, n);
    return *s ? 0 : -1;
}

static int int_arg(PyObject *value, int64_t *v, int *valid) {
    if (value == Py_None) { *v = 0; *valid = 0; return 0; }
    long long x = PyLong_AsLongLong(value);
    if (x == -1 && PyErr_Occurred()) return -1;
    *v = x;
    *valid = 1;
    return 0;
}

PyDoc_STRVAR(append_doc,
             "append(id, event_name, email, user_id, created_us, campaign_id, template_id, message_id, data)\n\n"
             "Append one row read by the Python path (a line the scanner handed back), in the columns' types.");

static PyObject *Builder_append(Builder *b, PyObject *args) {
    PyObject *values[9];
    if (refuse_busy(b)) return NULL;
    if (!PyArg_UnpackTuple(args, "append", 9, 9, &values[0], &values[1], &values[2], &values[3], &values[4],
                           &values[5], &values[6], &values[7], &values[8]))
        return NULL;
    const char *id, *name, *email, *user, *message, *data;
    Py_ssize_t id_len, name_len, email_len, user_len, message_len, data_len;
    int64_t created, campaign, template;
    int created_valid, campaign_valid, template_valid;
    if (text_arg(values[0], &id, &id_len) || text_arg(values[1], &name, &name_len) ||
        text_arg(values[2], &email, &email_len) || text_arg(values[3], &user, &user_len) ||
        int_arg(values[4], &created, &created_valid) || int_arg(values[5], &campaign, &campaign_valid) ||
        int_arg(values[6], &template, &template_valid) || text_arg(values[7], &message, &message_len) ||
        text_arg(values[8], &data, &data_len))
        return NULL;
    if (!id || !data) {
        PyErr_SetString(PyExc_TypeError, "append: id and data must be text");
        return NULL;
    }
    if (text_add(&b->texts[C_ID], id, id_len, 1) || text_add(&b->texts[C_NAME], name, name_len, name != NULL) ||
        text_add(&b->texts[C_EMAIL], email, email_len, email != NULL) ||
        text_add(&b->texts[C_USER], user, user_len, user != NULL) ||
        text_add(&b->texts[C_MESSAGE], message, message_len, message != NULL) ||
        text_add(&b->texts[C_DATA], data, data_len, 1) || int_add(&b->ints[I_CREATED], created, created_valid) ||
        int_add(&b->ints[I_CAMPAIGN], campaign, campaign_valid) ||
        int_add(&b->ints[I_TEMPLATE], template, template_valid))
        return PyErr_NoMemory();
    b->rows++;
    Py_RETURN_NONE;
}

/* A validity bitmap (Arrow's: least significant bit first), or None when no value is null. */
static PyObject *bitmap(const Buf *valid, size_t nulls, size_t rows) {
    if (!nulls) Py_RETURN_NONE;
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((rows + 7) / 8));
    if (!bytes) return NULL;
    unsigned char *bits = (unsigned char *)PyBytes_AS_STRING(bytes);
    memset(bits, 0, (rows + 7) / 8);
    for (size_t i = 0; i < rows; i++)
        if (valid->p[i]) bits[i / 8] |= (unsigned char)(1u << (i % 8));
    return bytes;
}

static PyObject *bytes_of(const Buf *b) { return PyBytes_FromStringAndSize(b->p ? b->p : "", (Py_ssize_t)b->len); }

PyDoc_STRVAR(take_doc,
             "take() -> (rows, texts, integers)\n\n"
             "The rows held, as Arrow buffers, and a fresh start: `texts` is (validity, offsets, data) for Id, "
             "EventName, Email, UserId, MessageId and DataFields; `integers` (validity, int64 values) for CreatedAt "
             "(microseconds), CampaignId and TemplateId. A validity is None when no value is null.");

static PyObject *Builder_take(Builder *b, PyObject *Py_UNUSED(ignored)) {
    if (refuse_busy(b)) return NULL;
    PyObject *texts = PyTuple_New(TEXTS), *ints = PyTuple_New(INTS), *result = NULL;
    if (!texts || !ints) goto done;
    for (int i = 0; i < TEXTS; i++) {
        TextColumn *c = &b->texts[i];
        PyObject *item = Py_BuildValue("(NNN)", bitmap(&c->valid, c->nulls, b->rows), bytes_of(&c->offsets),
                                       bytes_of(&c->data));
        if (!item) goto done;
        PyTuple_SET_ITEM(texts, i, item);
    }
    for (int i = 0; i < INTS; i++) {
        IntColumn *c = &b->ints[i];
        PyObject *item = Py_BuildValue("(NN)", bitmap(&c->valid, c->nulls, b->rows), bytes_of(&c->values));
        if (!item) goto done;
        PyTuple_SET_ITEM(ints, i, item);
    }
    result = Py_BuildValue("nOO", (Py_ssize_t)b->rows, texts, ints);
    if (result && builder_reset(b)) {
        Py_CLEAR(result);
        PyErr_NoMemory();
    }
done:
    Py_XDECREF(texts);
    Py_XDECREF(ints);
    return result;
}

static PyObject *Builder_held(Builder *b, void *Py_UNUSED(closure)) { return PyLong_FromSize_t(b->rows); }

/* ---------------------------------------------------------------- parsed JSON as Python values (arrow_dicts) */

static PyObject *text_object(const char *s, size_t n) {
    if (!s) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
}

/* A number's canonical text (read_line checked its form) as Python's int or float: the values orjson gives
 * (a correctly rounded float, as Python's own parser gives). */
static PyObject *number_object(const Node *n) {
    char text[64];
    if (n->len >= sizeof(text)) return NULL;
    memcpy(text, n->str, n->len);
    text[n->len] = 0;
    if (n->type == J_INT) { /* at most 18 digits (parse_number): an int64 */
        const char *digit = text + (text[0] == '-');
        int64_t value = 0;
        for (; *digit; digit++) value = value * 10 + (*digit - '0');
        return PyLong_FromLongLong(text[0] == '-' ? -value : value);
    }
    double value = PyOS_string_to_double(text, NULL, NULL);
    if (value == -1.0 && PyErr_Occurred()) return NULL;
    return PyFloat_FromDouble(value);
}

static PyObject *value_object(const Parser *ps, const Node *n);

/* Keys repeat from row to row: their str objects are kept in a small table (direct-mapped by an FNV-1a hash of
 * their bytes; used with the GIL held), as orjson keeps its own. */
#define KEY_SLOTS 1024
#define KEY_BYTES 40
static struct {
    uint32_t len;
    char bytes[KEY_BYTES];
    PyObject *text;
} key_cache[KEY_SLOTS];

static PyObject *key_object(const char *s, size_t n) {
    if (n > KEY_BYTES) return text_object(s, n);
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < n; i++) hash = (hash ^ (unsigned char)s[i]) * 16777619u;
    size_t slot = hash % KEY_SLOTS;
    if (key_cache[slot].text && key_cache[slot].len == n && !memcmp(key_cache[slot].bytes, s, n))
        return Py_NewRef(key_cache[slot].text);
    PyObject *text = text_object(s, n);
    if (!text) return NULL;
    Py_XSETREF(key_cache[slot].text, Py_NewRef(text));
    key_cache[slot].len = (uint32_t)n;
    memcpy(key_cache[slot].bytes, s, n);
    return text;
}

static PyObject *members_object(const Parser *ps, const uint32_t *members, size_t count) {
    PyObject *found = _PyDict_NewPresized((Py_ssize_t)count);
    if (!found) return NULL;
    for (size_t i = 0; i < count; i++) {
        const Node *member = &ps->arena.p[members[i]];
        PyObject *key = key_object(member->key, member->key_len);
        PyObject *value = key ? value_object(ps, member) : NULL;
        /* a key given twice: the last value, in the first one's place (as orjson.loads gives it) */
        if (!value || PyDict_SetItem(found, key, value)) {
            Py_XDECREF(key);
            Py_XDECREF(value);
            Py_DECREF(found);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(value);
    }
    return found;
}

static PyObject *value_object(const Parser *ps, const Node *n) {
    switch (n->type) {
    case J_NULL: Py_RETURN_NONE;
    case J_TRUE: Py_RETURN_TRUE;
    case J_FALSE: Py_RETURN_FALSE;
    case J_INT:
    case J_FLOAT: return number_object(n);
    case J_STR: return text_object(n->str, n->len);
    case J_ARR: {
        PyObject *list = PyList_New(n->count);
        if (!list) return NULL;
        for (uint32_t i = 0; i < n->count; i++) {
            PyObject *item = value_object(ps, &ps->arena.p[n->first + i]);
            if (!item) {
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(list, i, item);
        }
        return list;
    }
    default: {
        if (!n->count) return PyDict_New();
        uint32_t small[64];
        uint32_t *members = n->count <= 64 ? small : malloc(n->count * sizeof(uint32_t));
        if (!members) return PyErr_NoMemory();
        for (uint32_t i = 0; i < n->count; i++) members[i] = n->first + i;
        PyObject *found = members_object(ps, members, n->count);
        if (members != small) free(members);
        return found;
    }
    }
}

static PyMethodDef Builder_methods[] = {
    {"scan", (PyCFunction)Builder_scan, METH_VARARGS, scan_doc},
    {"append", (PyCFunction)Builder_append, METH_VARARGS, append_doc},
    {"take", (PyCFunction)Builder_take, METH_NOARGS, take_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Builder_getset[] = {
    {"rows", (getter)Builder_held, NULL, "rows held", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject BuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "iterbridge._eventscan.Builder",
    .tp_doc = PyDoc_STR("Events of one type from export lines into Arrow buffers (one reader's, not shared)."),
    .tp_basicsize = sizeof(Builder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Builder_init,
    .tp_dealloc = (destructor)Builder_dealloc,
    .tp_methods = Builder_methods,
    .tp_getset = Builder_getset,
};

/* ---------------------------------------------------------------- users' export lines (UserBuilder) */

/* Users' lines as the Python path reads them (objects/users_arrow.py: orjson.loads, users.unflatten, each
 * column's value typed as objects/arrow.array types it, ExtraFields as json_text or json_as_sent), under the
 * same rule as events: a line is taken only when certain. Handed back: a dotted key of more than two parts or
 * with an empty part, a field given both whole and dotted, and a value its column's type would convert
 * otherwise than this:
 *   TEXT       a string as it is; any other value as json.dumps writes it (ASCII, keys as sent)
 *   INTEGER    an integer;  REAL  a number;  BOOLEAN  true or false
 *   TIMESTAMP  the exports' "YYYY-MM-DD HH:MM:SS +00:00", a bare "YYYY-MM-DD" (midnight UTC), "" (null)
 *   JSON       any value, as orjson writes it (keys sorted; or as sent, a string then kept as it is)
 * null (or no field) is null in every column. */

typedef struct {
    char *top, *sub; /* the source's UTF-8 parts; sub NULL for a top-level field, top NULL for no source */
    size_t top_len, sub_len;
    int kind;
    TextColumn text; /* TEXT, JSON */
    IntColumn num;   /* INTEGER, TIMESTAMP (microseconds), REAL (the double's bits), BOOLEAN (0 or 1) */
} UserColumn;

/* One field of the profile users.unflatten makes of a line, in its order. */
typedef struct {
    const char *name;
    uint32_t len;
    uint32_t node; /* a whole field: its member (an arena index) */
    int group;     /* dotted keys "name.sub": the line's members whose key starts with "name." */
} Entry;

/* A column's value for the line being read, before it is appended (a line handed back appends nothing). */
typedef struct {
    int valid;
    int64_t number;
    const char *text; /* in the line or the parser's scratch; NULL: at `offset` in the builder's scratch */
    size_t offset, len;
} Staged;

typedef struct {
    PyObject_HEAD
    UserColumn *columns;
    Py_ssize_t count;
    char **covered; /* top-level names a column or Iterable's own fields hold: not ExtraFields' */
    size_t *covered_len;
    Py_ssize_t covered_count;
    TextColumn extra;
    size_t rows;
    int busy, sort_keys, ready;
    Parser ps;
    Writer w;
    Buf entries, staged, scratch, order;
    const Node *top;
} UserBuilder;

static inline const Entry *entry_at(const UserBuilder *b, size_t i) { return (const Entry *)b->entries.p + i; }
static inline size_t entry_count(const UserBuilder *b) { return b->entries.len / sizeof(Entry); }

static const Entry *entry_named(const UserBuilder *b, const char *name, size_t len) {
    for (size_t i = 0; i < entry_count(b); i++) {
        const Entry *e = entry_at(b, i);
        if (e->len == len && !memcmp(e->name, name, len)) return e;
    }
    return NULL;
}

/* The profile's fields in users.unflatten's order (a group where its first dotted key is). */
static int read_entries(UserBuilder *b) {
    const Node *top = b->top;
    b->entries.len = 0;
    for (uint32_t i = 0; i < top->count; i++) {
        const Node *member = &b->ps.arena.p[top->first + i];
        const char *dot = memchr(member->key, '.', member->key_len);
        Entry e = {member->key, member->key_len, top->first + i, 0};
        if (dot) {
            size_t head = (size_t)(dot - member->key), rest = member->key_len - head - 1;
            if (!head || !rest || memchr(dot + 1, '.', rest)) return ODD;
            e.len = (uint32_t)head;
            e.group = 1;
        }
        const Entry *found = entry_named(b, e.name, e.len);
        if (found) {
            if (found->group && e.group) continue;
            return ODD; /* a field given whole and dotted (the same key twice was refused before) */
        }
        if (buf_put(&b->entries, &e, sizeof(e))) return NOMEM;
    }
    return OK;
}

/* A group's members (arena indexes) into b->order from `base`, sorted by their sub keys when `sorted`. */
static size_t group_members(UserBuilder *b, const Entry *e, int sorted, size_t base) {
    const Node *top = b->top, *arena = b->ps.arena.p;
    size_t count = 0;
    for (uint32_t i = 0; i < top->count; i++) {
        const Node *m = &arena[top->first + i];
        if (m->key_len > e->len && m->key[e->len] == '.' && !memcmp(m->key, e->name, e->len)) {
            uint32_t index = top->first + i;
            if (buf_put(&b->order, &index, 4)) return (size_t)-1;
            count++;
        }
    }
    uint32_t *order = (uint32_t *)(b->order.p + base);
    for (size_t i = 1; sorted && i < count; i++) { /* sub keys differ: whole keys do */
        uint32_t item = order[i];
        const Node *it = &arena[item];
        size_t j = i;
        for (; j > 0; j--) {
            const Node *before = &arena[order[j - 1]];
            size_t a = before->key_len - e->len - 1, c = it->key_len - e->len - 1, n = a < c ? a : c;
            int k = memcmp(before->key + e->len + 1, it->key + e->len + 1, n);
            if (k < 0 || (!k && a < c)) break;
            order[j] = order[j - 1];
        }
        order[j] = item;
    }
    return count;
}

/* A group as the object unflatten makes of it. */
static int write_group(UserBuilder *b, Buf *out, const Entry *e, int sorted) {
    size_t base = b->order.len;
    size_t count = group_members(b, e, sorted, base);
    if (count == (size_t)-1 || buf_byte(out, '{')) return NOMEM;
    int r = OK;
    for (size_t i = 0; i < count && !r; i++) {
        const Node *m = &b->ps.arena.p[((uint32_t *)(b->order.p + base))[i]];
        size_t skip = e->len + 1;
        if ((i && buf_byte(out, ',')) ||
            write_string_as(&b->w, out, m->key + skip, m->key_len - skip, m->key_plain) || buf_byte(out, ':'))
            r = NOMEM;
        else
            r = write_value(&b->w, out, m, sorted);
    }
    b->order.len = base;
    if (r) return r;
    return buf_byte(out, '}') ? NOMEM : OK;
}

/* The value of a column's source: a node, a group (*entry, *node NULL), or nothing (both NULL), as
 * Column.raw walks the unflattened profile. */
static void source_value(const UserBuilder *b, const UserColumn *c, const Entry **entry, const Node **node) {
    *entry = NULL;
    *node = NULL;
    if (!c->top) return; /* a column without a source */
    const Entry *e = entry_named(b, c->top, c->top_len);
    if (!e) return;
    const Node *arena = b->ps.arena.p;
    if (!c->sub) {
        if (e->group) *entry = e;
        else *node = &arena[e->node];
        return;
    }
    if (e->group) {
        const Node *top = b->top;
        for (uint32_t i = 0; i < top->count; i++) {
            const Node *m = &arena[top->first + i];
            if (m->key_len == e->len + 1 + c->sub_len && !memcmp(m->key, e->name, e->len) &&
                m->key[e->len] == '.' && !memcmp(m->key + e->len + 1, c->sub, c->sub_len))
                *node = m;
        }
        return;
    }
    const Node *whole = &arena[e->node];
    if (whole->type != J_OBJ) return;
    for (uint32_t i = 0; i < whole->count; i++) { /* a key given twice: its last value, as a dict has it */
        const Node *m = &arena[whole->first + i];
        if (m->key_len == c->sub_len && !memcmp(m->key, c->sub, c->sub_len)) *node = m;
    }
}

static int bare_date(const char *t, size_t n, int64_t *micros) {
    int y, mo, d;
    static const int days_in[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n != 10 || t[4] != '-' || t[7] != '-' || digits(t, 4, &y) || digits(t + 5, 2, &mo) || digits(t + 8, 2, &d))
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > days_in[mo - 1] + (mo == 2 && leap)) return -1;
    *micros = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 * 1000000LL;
    return 0;
}

static int64_t integer_of(const Node *n) {
    const char *s = n->str;
    int64_t v = 0;
    for (size_t i = s[0] == '-'; i < n->len; i++) v = v * 10 + (s[i] - '0');
    return s[0] == '-' ? -v : v;
}

/* Text written into the scratch by `write` (a JSON writer's call), staged by its offset. */
#define STAGE_WRITTEN(call)                          \
    do {                                             \
        size_t start_ = b->scratch.len;              \
        int r_ = (call);                             \
        if (r_) return r_ == -1 ? NOMEM : r_;        \
        st->offset = start_;                         \
        st->len = b->scratch.len - start_;           \
        st->valid = 1;                               \
    } while (0)

static int stage_value(UserBuilder *b, const UserColumn *c, Staged *st) {
    const Entry *group;
    const Node *n;
    source_value(b, c, &group, &n);
    memset(st, 0, sizeof(*st));
    if (!group && (!n || n->type == J_NULL)) return OK;
    switch (c->kind) {
    case KIND_TEXT:
        if (n && n->type == J_STR) {
            st->text = n->str, st->len = n->len, st->valid = 1;
            return OK;
        }
        b->w.ascii = 1;
        {
            size_t start = b->scratch.len;
            int r = group ? write_group(b, &b->scratch, group, 0) : write_value(&b->w, &b->scratch, n, 0);
            b->w.ascii = 0;
            if (r) return r;
            st->offset = start, st->len = b->scratch.len - start, st->valid = 1;
        }
        return OK;
    case KIND_JSON:
        if (n && n->type == J_STR && !b->sort_keys) {
            st->text = n->str, st->len = n->len, st->valid = 1;
            return OK;
        }
        if (group) STAGE_WRITTEN(write_group(b, &b->scratch, group, b->sort_keys));
        else STAGE_WRITTEN(write_value(&b->w, &b->scratch, n, b->sort_keys));
        return OK;
    default: break;
    }
    if (group) return ODD;
    st->valid = 1;
    switch (c->kind) {
    case KIND_INTEGER:
        if (n->type != J_INT) return ODD;
        st->number = integer_of(n);
        return OK;
    case KIND_REAL: {
        double value;
        if (n->type == J_INT) {
            value = (double)integer_of(n);
        } else if (n->type == J_FLOAT) {
            char text[64];
            if (n->len >= sizeof(text)) return ODD;
            memcpy(text, n->str, n->len);
            text[n->len] = 0;
            value = strtod(text, NULL);
        } else {
            return ODD;
        }
        memcpy(&st->number, &value, 8);
        return OK;
    }
    case KIND_BOOLEAN:
        if (n->type != J_TRUE && n->type != J_FALSE) return ODD;
        st->number = n->type == J_TRUE;
        return OK;
    default: { /* KIND_TIMESTAMP */
        char iso[25];
        if (n->type != J_STR) return ODD;
        if (!n->len) st->valid = 0;
        else if (export_moment(n->str, n->len, &st->number, iso) && bare_date(n->str, n->len, &st->number))
            return ODD;
        return OK;
    }
    }
}

static int is_covered(const UserBuilder *b, const Entry *e) {
    for (Py_ssize_t i = 0; i < b->covered_count; i++)
        if (b->covered_len[i] == e->len && !memcmp(b->covered[i], e->name, e->len)) return 1;
    return 0;
}

/* ExtraFields: the fields no column holds, as an object (keys sorted, or in the profile's order); none: null. */
static int stage_extra(UserBuilder *b, Staged *st) {
    size_t base = b->order.len, count = 0;
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < entry_count(b); i++) {
        if (is_covered(b, entry_at(b, i))) continue;
        uint32_t index = (uint32_t)i;
        if (buf_put(&b->order, &index, 4)) return NOMEM;
        count++;
    }
    if (!count) return OK;
    uint32_t *order = (uint32_t *)(b->order.p + base);
    for (size_t i = 1; b->sort_keys && i < count; i++) { /* names differ */
        uint32_t item = order[i];
        const Entry *it = entry_at(b, item);
        size_t j = i;
        for (; j > 0; j--) {
            const Entry *before = entry_at(b, order[j - 1]);
            size_t n = before->len < it->len ? before->len : it->len;
            int k = memcmp(before->name, it->name, n);
            if (k < 0 || (!k && before->len < it->len)) break;
            order[j] = order[j - 1];
        }
        order[j] = item;
    }
    size_t start = b->scratch.len;
    int r = buf_byte(&b->scratch, '{') ? NOMEM : OK;
    for (size_t i = 0; i < count && !r; i++) {
        const Entry *e = entry_at(b, ((uint32_t *)(b->order.p + base))[i]);
        if ((i && buf_byte(&b->scratch, ',')) || write_string(&b->scratch, e->name, e->len) ||
            buf_byte(&b->scratch, ':'))
            r = NOMEM;
        else if (e->group)
            r = write_group(b, &b->scratch, e, b->sort_keys);
        else
            r = write_value(&b->w, &b->scratch, &b->ps.arena.p[e->node], b->sort_keys);
    }
    b->order.len = base;
    if (r || buf_byte(&b->scratch, '}')) return r ? r : NOMEM;
    st->offset = start, st->len = b->scratch.len - start, st->valid = 1;
    return OK;
}

static int add_staged_text(UserBuilder *b, TextColumn *c, const Staged *st) {
    const char *text = st->text ? st->text : b->scratch.p + st->offset;
    return text_add(c, st->valid ? text : NULL, st->valid ? st->len : 0, st->valid);
}

/* One line: OK with its row appended, ODD (nothing appended), NOMEM; *blank: whitespace only. */
static int scan_user_line(void *builder, const unsigned char *line, size_t n, int *blank) {
    UserBuilder *b = builder;
    Node top;
    b->w.order.len = b->order.len = b->scratch.len = b->staged.len = 0;
    int r = parse_line(&b->ps, line, n, blank, &top);
    if (r || *blank) return r;
    b->top = &top;
    if ((r = read_entries(b))) return r;
    if (buf_grow(&b->staged, (size_t)(b->count + 1) * sizeof(Staged))) return NOMEM;
    Staged *staged = (Staged *)b->staged.p;
    for (Py_ssize_t i = 0; i < b->count; i++)
        if ((r = stage_value(b, &b->columns[i], &staged[i]))) return r;
    if ((r = stage_extra(b, &staged[b->count]))) return r;
    for (Py_ssize_t i = 0; i < b->count; i++) {
        UserColumn *c = &b->columns[i];
        int failed = c->kind == KIND_TEXT || c->kind == KIND_JSON ? add_staged_text(b, &c->text, &staged[i])
                                                            : int_add(&c->num, staged[i].number, staged[i].valid);
        if (failed) return NOMEM;
    }
    if (add_staged_text(b, &b->extra, &staged[b->count])) return NOMEM;
    b->rows++;
    return OK;
}

static int user_reset(UserBuilder *b) {
    for (Py_ssize_t i = 0; i < b->count; i++) {
        UserColumn *c = &b->columns[i];
        c->num.values.len = c->num.valid.len = 0;
        c->num.nulls = 0;
        if (text_start(&c->text)) return -1;
    }
    b->rows = 0;
    return text_start(&b->extra);
}

static void user_free_plan(UserBuilder *b) {
    for (Py_ssize_t i = 0; b->columns && i < b->count; i++) {
        UserColumn *c = &b->columns[i];
        free(c->top);
        free(c->sub);
        buf_free(&c->text.offsets), buf_free(&c->text.data), buf_free(&c->text.valid);
        buf_free(&c->num.values), buf_free(&c->num.valid);
    }
    free(b->columns);
    for (Py_ssize_t i = 0; b->covered && i < b->covered_count; i++) free(b->covered[i]);
    free(b->covered);
    free(b->covered_len);
    b->columns = NULL, b->covered = NULL, b->covered_len = NULL;
    b->count = b->covered_count = 0;
    b->ready = 0;
}

static void UserBuilder_dealloc(UserBuilder *b) {
    user_free_plan(b);
    buf_free(&b->extra.offsets), buf_free(&b->extra.data), buf_free(&b->extra.valid);
    buf_free(&b->ps.text);
    free(b->ps.stack.p);
    free(b->ps.arena.p);
    buf_free(&b->w.order);
    buf_free(&b->entries), buf_free(&b->staged), buf_free(&b->scratch), buf_free(&b->order);
    Py_TYPE(b)->tp_free((PyObject *)b);
}

static char *copied(const char *s, size_t n) {
    char *p = malloc(n ? n : 1);
    if (p && n) memcpy(p, s, n);
    return p;
}

static int UserBuilder_init(UserBuilder *b, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"columns", "covered", "sort_keys", NULL};
    PyObject *columns, *covered;
    int sort_keys = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!|p", keywords, &PyTuple_Type, &columns, &PyTuple_Type,
                                     &covered, &sort_keys))
        return -1;
    if (b->busy) {
        PyErr_SetString(PyExc_RuntimeError, "this builder is scanning in another thread");
        return -1;
    }
    user_free_plan(b);
    Py_ssize_t count = PyTuple_GET_SIZE(columns), covered_count = PyTuple_GET_SIZE(covered);
    b->columns = calloc(count ? count : 1, sizeof(UserColumn));
    b->covered = calloc(covered_count ? covered_count : 1, sizeof(char *));
    b->covered_len = calloc(covered_count ? covered_count : 1, sizeof(size_t));
    if (!b->columns || !b->covered || !b->covered_len) goto nomem;
    b->count = count;
    b->covered_count = covered_count;
    for (Py_ssize_t i = 0; i < count; i++) {
        const char *top = NULL, *sub = NULL;
        Py_ssize_t top_len = 0, sub_len = 0;
        int kind;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(columns, i), "z#z#i", &top, &top_len, &sub, &sub_len, &kind))
            return -1;
        if (kind < 0 || kind >= KINDS) {
            PyErr_SetString(PyExc_ValueError, "UserBuilder: unknown column kind");
            return -1;
        }
        UserColumn *c = &b->columns[i];
        c->kind = kind;
        c->top_len = (size_t)top_len;
        if (top && !(c->top = copied(top, top_len))) goto nomem;
        if (sub) {
            c->sub_len = (size_t)sub_len;
            if (!(c->sub = copied(sub, sub_len))) goto nomem;
        }
    }
    for (Py_ssize_t i = 0; i < covered_count; i++) {
        Py_ssize_t n;
        const char *name = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(covered, i), &n);
        if (!name) return -1;
        if (!(b->covered[i] = copied(name, n))) goto nomem;
        b->covered_len[i] = (size_t)n;
    }
    if (user_reset(b)) goto nomem;
    b->sort_keys = sort_keys;
    b->w.ps = &b->ps;
    b->ready = 1;
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

static int user_usable(UserBuilder *b) {
    if (!b->ready) PyErr_SetString(PyExc_RuntimeError, "UserBuilder not initialised");
    else if (b->busy) PyErr_SetString(PyExc_RuntimeError, "this builder is scanning in another thread");
    else return 1;
    return 0;
}

static PyObject *UserBuilder_scan(UserBuilder *b, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, max_rows;
    if (!PyArg_ParseTuple(args, "y*nn", &view, &start, &max_rows)) return NULL;
    if (!user_usable(b)) {
        PyBuffer_Release(&view);
        return NULL;
    }
    size_t pos = start < 0 ? 0 : (size_t)start, before = b->rows;
    b->busy = 1;
    int status = scan_block(b, scan_user_line, &view, &pos, &b->rows, max_rows);
    b->busy = 0;
    PyBuffer_Release(&view);
    if (status < 0) return PyErr_NoMemory();
    return Py_BuildValue("nin", (Py_ssize_t)pos, status, (Py_ssize_t)(b->rows - before));
}

PyDoc_STRVAR(user_append_doc,
             "append(values)\n\n"
             "Append one row read by the Python path (a line the scanner handed back): a tuple of each column's "
             "value in its type (TEXT and JSON: str; INTEGER: int; REAL: float; BOOLEAN: bool; TIMESTAMP: int "
             "microseconds; None: null), then ExtraFields' text or None.");

static PyObject *UserBuilder_append(UserBuilder *b, PyObject *args) {
    PyObject *values;
    if (!user_usable(b) || !PyArg_ParseTuple(args, "O!", &PyTuple_Type, &values)) return NULL;
    if (PyTuple_GET_SIZE(values) != b->count + 1) {
        PyErr_SetString(PyExc_ValueError, "append: one value per column and ExtraFields' are expected");
        return NULL;
    }
    /* every value checked before any is appended */
    Staged *staged = calloc((size_t)b->count + 1, sizeof(Staged));
    if (!staged) return PyErr_NoMemory();
    int failed = 0;
    for (Py_ssize_t i = 0; i <= b->count && !failed; i++) {
        PyObject *value = PyTuple_GET_ITEM(values, i);
        int kind = i < b->count ? b->columns[i].kind : KIND_JSON;
        Staged *st = &staged[i];
        if (value == Py_None) continue;
        st->valid = 1;
        if (kind == KIND_TEXT || kind == KIND_JSON) {
            Py_ssize_t n;
            st->text = PyUnicode_AsUTF8AndSize(value, &n);
            st->len = (size_t)n;
            failed = !st->text;
        } else if (kind == KIND_REAL) {
            double v = PyFloat_AsDouble(value);
            failed = v == -1.0 && PyErr_Occurred();
            memcpy(&st->number, &v, 8);
        } else if (kind == KIND_BOOLEAN) {
            failed = !PyBool_Check(value);
            if (failed) PyErr_SetString(PyExc_TypeError, "append: a BOOLEAN value must be a bool");
            st->number = value == Py_True;
        } else {
            int valid;
            failed = int_arg(value, &st->number, &valid) < 0;
        }
    }
    for (Py_ssize_t i = 0; i < b->count && !failed; i++) {
        UserColumn *c = &b->columns[i];
        if (c->kind == KIND_TEXT || c->kind == KIND_JSON ? add_staged_text(b, &c->text, &staged[i])
                                                   : int_add(&c->num, staged[i].number, staged[i].valid))
            failed = 2;
    }
    if (!failed && add_staged_text(b, &b->extra, &staged[b->count])) failed = 2;
    free(staged);
    if (failed == 2) return PyErr_NoMemory();
    if (failed) return NULL;
    b->rows++;
    Py_RETURN_NONE;
}

/* BOOLEAN's values (int64 0 or 1 a row) as Arrow's bit-packed values. */
static PyObject *value_bits(const Buf *values, size_t rows) {
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((rows + 7) / 8));
    if (!bytes) return NULL;
    unsigned char *bits = (unsigned char *)PyBytes_AS_STRING(bytes);
    memset(bits, 0, (rows + 7) / 8);
    const int64_t *v = (const int64_t *)values->p;
    for (size_t i = 0; i < rows; i++)
        if (v[i]) bits[i / 8] |= (unsigned char)(1u << (i % 8));
    return bytes;
}

static PyObject *text_buffers(const TextColumn *c, size_t rows) {
    return Py_BuildValue("(NNN)", bitmap(&c->valid, c->nulls, rows), bytes_of(&c->offsets), bytes_of(&c->data));
}

PyDoc_STRVAR(user_take_doc,
             "take() -> (rows, columns, extra)\n\n"
             "The rows held, as Arrow buffers, and a fresh start: per column, (validity, offsets, data) for TEXT "
             "and JSON, (validity, values) otherwise (int64; REAL float64; BOOLEAN bits); `extra` ExtraFields' "
             "(validity, offsets, data). A validity is None when no value is null.");

static PyObject *UserBuilder_take(UserBuilder *b, PyObject *Py_UNUSED(ignored)) {
    if (!user_usable(b)) return NULL;
    PyObject *columns = PyTuple_New(b->count), *result = NULL;
    if (!columns) return NULL;
    for (Py_ssize_t i = 0; i < b->count; i++) {
        UserColumn *c = &b->columns[i];
        PyObject *item;
        if (c->kind == KIND_TEXT || c->kind == KIND_JSON)
            item = text_buffers(&c->text, b->rows);
        else
            item = Py_BuildValue("(NN)", bitmap(&c->num.valid, c->num.nulls, b->rows),
                                 c->kind == KIND_BOOLEAN ? value_bits(&c->num.values, b->rows)
                                                      : bytes_of(&c->num.values));
        if (!item) goto done;
        PyTuple_SET_ITEM(columns, i, item);
    }
    result = Py_BuildValue("nON", (Py_ssize_t)b->rows, columns, text_buffers(&b->extra, b->rows));
    if (result && user_reset(b)) {
        Py_CLEAR(result);
        PyErr_NoMemory();
    }
done:
    Py_DECREF(columns);
    return result;
}

static PyObject *UserBuilder_held(UserBuilder *b, void *Py_UNUSED(closure)) { return PyLong_FromSize_t(b->rows); }

static PyMethodDef UserBuilder_methods[] = {
    {"scan", (PyCFunction)UserBuilder_scan, METH_VARARGS, scan_doc},
    {"append", (PyCFunction)UserBuilder_append, METH_VARARGS, user_append_doc},
    {"take", (PyCFunction)UserBuilder_take, METH_NOARGS, user_take_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef UserBuilder_getset[] = {
    {"rows", (getter)UserBuilder_held, NULL, "rows held", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject UserBuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "iterbridge._eventscan.UserBuilder",
    .tp_doc = PyDoc_STR("Users from export lines into Arrow buffers, for the columns given (one reader's)."),
    .tp_basicsize = sizeof(UserBuilder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)UserBuilder_init,
    .tp_dealloc = (destructor)UserBuilder_dealloc,
    .tp_methods = UserBuilder_methods,
    .tp_getset = UserBuilder_getset,
};

/* ---------------------------------------------------------------- PostgreSQL binary COPY (replicate/batches.py) */

PyDoc_STRVAR(pg_copy_doc,
             "pg_copy_rows(columns, count, /) -> bytes\n\n"
             "`count` rows of Arrow columns as the tuples of a PostgreSQL binary COPY (no signature, no trailer):\n"
             "each row its field count, each field its length (-1: NULL) and its bytes. `columns`: a sequence of\n"
             "(kind, validity, offsets, data, offset), the Arrow buffers of a column (validity None: no NULL;\n"
             "offsets: int32, for text only) and its first element. Kinds: KIND_TEXT (NUL characters taken out),\n"
             "KIND_JSON (jsonb's version byte, then the text without its escaped NULs, as batches._pg_field),\n"
             "KIND_INTEGER, KIND_REAL (8 bytes, big-endian), KIND_BOOLEAN (bits), KIND_TIMESTAMP (Unix\n"
             "microseconds, written from PostgreSQL's epoch, 2000-01-01).");

#define PG_EPOCH_US INT64_C(946684800000000)
#define PG_MAX_COLUMNS 1600 /* PostgreSQL's own limit */

/* A column's Arrow buffers as pg_copy_rows and sqlite_write take them (batches.arrow_buffers gives them). */
typedef struct {
    int kind;
    Py_buffer validity, offsets, data; /* .obj NULL: not given */
    Py_ssize_t offset;
} ArrowColumn;

static inline int bit_set(const unsigned char *bits, Py_ssize_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }

static inline char *put_be32(char *w, uint32_t v) {
    w[0] = (char)(v >> 24), w[1] = (char)(v >> 16), w[2] = (char)(v >> 8), w[3] = (char)v;
    return w + 4;
}

static inline char *put_be64(char *w, uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) *w++ = (char)(v >> shift);
    return w;
}

/* Text without NUL characters (PostgreSQL's text holds none), as `_no_nul`. */
static char *put_text(char *w, const char *p, const char *end) {
    const char *nul;
    while ((nul = memchr(p, 0, (size_t)(end - p))) != NULL) {
        memcpy(w, p, (size_t)(nul - p));
        w += nul - p;
        p = nul + 1;
    }
    memcpy(w, p, (size_t)(end - p));
    return w + (end - p);
}

/* JSON text without its escaped NULs, as `_pg_json`: an escaped backslash is kept as it is (and so is not the
 * start of an escape), a raw NUL becomes an escaped backslash (JSON text holds none), "\u0000" goes. */
static char *put_json(char *w, const char *p, const char *end) {
    while (p < end) {
        const char *stop = p;
        while (stop < end && *stop != '\\' && *stop != 0) stop++;
        memcpy(w, p, (size_t)(stop - p));
        w += stop - p;
        p = stop;
        if (p >= end) break;
        if (*p == 0) {
            *w++ = '\\', *w++ = '\\';
            p++;
        } else if (p + 1 < end && p[1] == '\\') {
            *w++ = '\\', *w++ = '\\';
            p += 2;
        } else if (end - p >= 6 && memcmp(p, "\\u0000", 6) == 0) {
            p += 6;
        } else {
            *w++ = *p++;
        }
    }
    return w;
}

static void columns_release(ArrowColumn *columns, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (columns[i].validity.obj) PyBuffer_Release(&columns[i].validity);
        if (columns[i].offsets.obj) PyBuffer_Release(&columns[i].offsets);
        if (columns[i].data.obj) PyBuffer_Release(&columns[i].data);
    }
    PyMem_Free(columns);
}

/* A column's buffers taken and checked against `count` rows; adds the most its fields can take to *most. */
static int column_take(PyObject *item, Py_ssize_t count, ArrowColumn *column, size_t *most) {
    PyObject *validity, *offsets, *data;
    if (!PyArg_ParseTuple(item, "iOOOn", &column->kind, &validity, &offsets, &data, &column->offset)) return -1;
    if (column->kind < 0 || column->kind >= KINDS || column->offset < 0) {
        PyErr_SetString(PyExc_ValueError, "a column of an unknown kind, or a negative offset");
        return -1;
    }
    size_t last = (size_t)column->offset + (size_t)count; /* one past the last element */
    if (validity != Py_None) {
        if (PyObject_GetBuffer(validity, &column->validity, PyBUF_SIMPLE) < 0) return -1;
        if ((size_t)column->validity.len * 8 < last) goto short_buffer;
    }
    if (PyObject_GetBuffer(data, &column->data, PyBUF_SIMPLE) < 0) return -1;
    size_t data_len = (size_t)column->data.len;
    *most += 4 * (size_t)count;
    if (column->kind == KIND_TEXT || column->kind == KIND_JSON) {
        if (offsets == Py_None || PyObject_GetBuffer(offsets, &column->offsets, PyBUF_SIMPLE) < 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "a text column without offsets");
            return -1;
        }
        if ((size_t)column->offsets.len < (last + 1) * sizeof(int32_t)) goto short_buffer;
        const int32_t *bounds = (const int32_t *)column->offsets.buf + column->offset;
        for (Py_ssize_t i = 0; i < count; i++) /* every cell inside the data, in order: nothing read past it */
            if (bounds[i] < 0 || bounds[i + 1] < bounds[i] || (size_t)bounds[i + 1] > data_len) goto short_buffer;
        size_t size = count ? (size_t)(bounds[count] - bounds[0]) : 0;
        /* Text only shrinks; JSON takes the version byte, and a raw NUL becomes two bytes. */
        *most += column->kind == KIND_JSON ? 2 * size + (size_t)count : size;
    } else if (column->kind == KIND_BOOLEAN) {
        if (data_len * 8 < last) goto short_buffer;
        *most += (size_t)count;
    } else {
        if (data_len < last * 8) goto short_buffer;
        *most += 8 * (size_t)count;
    }
    return 0;
short_buffer:
    PyErr_SetString(PyExc_ValueError, "a column buffer shorter than its rows, or offsets outside the data");
    return -1;
}

static PyObject *pg_copy_rows(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *given;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "On", &given, &count)) return NULL;
    PyObject *sequence = PySequence_Fast(given, "pg_copy_rows: columns must be a sequence");
    if (!sequence) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(sequence);
    if (count < 0 || n < 1 || n > PG_MAX_COLUMNS) {
        Py_DECREF(sequence);
        PyErr_SetString(PyExc_ValueError, "pg_copy_rows: a negative count, or no column or too many");
        return NULL;
    }
    ArrowColumn *columns = PyMem_Calloc((size_t)n, sizeof(ArrowColumn));
    PyObject *result = NULL;
    size_t most = 2 * (size_t)count;
    if (!columns) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t c = 0; c < n; c++)
        if (column_take(PySequence_Fast_GET_ITEM(sequence, c), count, &columns[c], &most) < 0) goto done;
    if (most > PY_SSIZE_T_MAX) {
        PyErr_SetString(PyExc_OverflowError, "pg_copy_rows: too many bytes");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)most);
    if (!result) goto done;
    char *out = PyBytes_AS_STRING(result), *w = out;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < count; i++) {
        *w++ = (char)(n >> 8), *w++ = (char)n;
        for (Py_ssize_t c = 0; c < n; c++) {
            const ArrowColumn *column = &columns[c];
            Py_ssize_t at = column->offset + i;
            if (column->validity.obj && !bit_set(column->validity.buf, at)) {
                w = put_be32(w, UINT32_MAX); /* -1: NULL */
                continue;
            }
            const char *data = column->data.buf;
            char *length = w;
            w += 4;
            switch (column->kind) {
            case KIND_TEXT:
            case KIND_JSON: {
                const int32_t *bounds = (const int32_t *)column->offsets.buf;
                const char *p = data + bounds[at], *end = data + bounds[at + 1];
                if (column->kind == KIND_TEXT) {
                    w = put_text(w, p, end);
                } else {
                    *w++ = 1; /* jsonb's version */
                    w = put_json(w, p, end);
                }
                break;
            }
            case KIND_BOOLEAN:
                *w++ = (char)bit_set((const unsigned char *)data, at);
                break;
            case KIND_TIMESTAMP: {
                int64_t micros;
                memcpy(&micros, data + 8 * at, 8);
                w = put_be64(w, (uint64_t)(micros - PG_EPOCH_US));
                break;
            }
            default: { /* KIND_INTEGER, KIND_REAL: the 8 bytes as they are, big-endian */
                uint64_t bits;
                memcpy(&bits, data + 8 * at, 8);
                w = put_be64(w, bits);
            }
            }
            put_be32(length, (uint32_t)(w - length - 4));
        }
    }
    Py_END_ALLOW_THREADS;
    if (_PyBytes_Resize(&result, (Py_ssize_t)(w - out)) < 0) result = NULL; /* freed on failure */
done:
    if (columns) columns_release(columns, n);
    Py_DECREF(sequence);
    return result;
}

/* ---------------------------------------------------------------- SQLite rows bound from Arrow (replicate/targets.py) */

/* SQLite's C API, taken from the very library Python's _sqlite3 module uses (`sqlite_bind_library`, given that
 * module's file): a statement stepped here runs on the connection's own handle, in its transaction. No header: the
 * few types and codes are SQLite's stable ABI. */
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
#define SQLITE_DONE 101
#define SQLITE_CONSTRAINT 19
static struct {
    int (*prepare_v2)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int (*bind_int64)(sqlite3_stmt *, int, int64_t);
    int (*bind_double)(sqlite3_stmt *, int, double);
    int (*bind_null)(sqlite3_stmt *, int);
    int (*bind_parameter_count)(sqlite3_stmt *);
    int (*step)(sqlite3_stmt *);
    int (*reset)(sqlite3_stmt *);
    int (*finalize)(sqlite3_stmt *);
    int (*changes)(sqlite3 *);
    int (*get_autocommit)(sqlite3 *);
    const char *(*errmsg)(sqlite3 *);
} sq;
static PyObject *sqlite_connection_type, *sqlite_integrity_error, *sqlite_operational_error;

/* What CPython's _sqlite3 Connection object starts with: its handle follows the object header (true of every
 * CPython 3 version). */
typedef struct {
    PyObject_HEAD sqlite3 *db;
} SqliteConnectionHead;

PyDoc_STRVAR(sqlite_bind_doc,
             "sqlite_bind_library(module_file, connection_type, integrity_error, operational_error, /) -> bool\n\n"
             "Take SQLite's functions from the library the _sqlite3 module at `module_file` uses (already loaded:\n"
             "it is not loaded again), for `sqlite_write`. False when they cannot all be found.");

static PyObject *sqlite_bind_library(PyObject *Py_UNUSED(self), PyObject *args) {
    const char *path;
    PyObject *type, *integrity, *operational;
    if (!PyArg_ParseTuple(args, "sOOO", &path, &type, &integrity, &operational)) return NULL;
    if (!PyType_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "sqlite_bind_library: connection_type must be a type");
        return NULL;
    }
    void *module = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (!module) Py_RETURN_FALSE;
    void **slots[] = {(void **)&sq.prepare_v2, (void **)&sq.bind_text, (void **)&sq.bind_int64,
                      (void **)&sq.bind_double, (void **)&sq.bind_null, (void **)&sq.bind_parameter_count,
                      (void **)&sq.step, (void **)&sq.reset, (void **)&sq.finalize, (void **)&sq.changes,
                      (void **)&sq.get_autocommit, (void **)&sq.errmsg};
    static const char *const names[] = {"sqlite3_prepare_v2", "sqlite3_bind_text", "sqlite3_bind_int64",
                                        "sqlite3_bind_double", "sqlite3_bind_null", "sqlite3_bind_parameter_count",
                                        "sqlite3_step", "sqlite3_reset", "sqlite3_finalize", "sqlite3_changes",
                                        "sqlite3_get_autocommit", "sqlite3_errmsg"};
    int found = 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!(*slots[i] = dlsym(module, names[i]))) found = 0;
    dlclose(module); /* a reference dropped: the module stays loaded by the interpreter */
    if (!found) {
        memset(&sq, 0, sizeof(sq));
        Py_RETURN_FALSE;
    }
    Py_XSETREF(sqlite_connection_type, Py_NewRef(type));
    Py_XSETREF(sqlite_integrity_error, Py_NewRef(integrity));
    Py_XSETREF(sqlite_operational_error, Py_NewRef(operational));
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(sqlite_write_doc,
             "sqlite_write(connection, sql, columns, count, /) -> int\n\n"
             "Run the statement `sql` (UTF-8, one `?` per column) once per row of `count` rows of Arrow columns,\n"
             "on the sqlite3 `connection`'s own handle and in its open transaction, the GIL released; the rows\n"
             "it changed (as executemany's rowcount). `columns` as pg_copy_rows takes them, of kinds KIND_TEXT,\n"
             "KIND_INTEGER and KIND_REAL. A failing row raises the sqlite3 module's error, the rows before it\n"
             "written.");

static PyObject *sqlite_write(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *connection, *given;
    const char *sql;
    Py_ssize_t sql_length, count;
    if (!PyArg_ParseTuple(args, "Os#On", &connection, &sql, &sql_length, &given, &count)) return NULL;
    if (!sq.step || !sqlite_connection_type || !PyObject_TypeCheck(connection, (PyTypeObject *)sqlite_connection_type)) {
        PyErr_SetString(PyExc_TypeError, "sqlite_write: not a sqlite3 connection, or SQLite's library not bound");
        return NULL;
    }
    sqlite3 *db = ((SqliteConnectionHead *)connection)->db;
    if (!db || sq.get_autocommit(db)) {
        PyErr_SetString(PyExc_ValueError, "sqlite_write: the connection is closed, or has no open transaction");
        return NULL;
    }
    PyObject *sequence = PySequence_Fast(given, "sqlite_write: columns must be a sequence");
    if (!sequence) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(sequence);
    ArrowColumn *columns = NULL;
    sqlite3_stmt *statement = NULL;
    PyObject *result = NULL;
    size_t most = 0;
    if (count < 0 || n < 1 || n > PG_MAX_COLUMNS) {
        PyErr_SetString(PyExc_ValueError, "sqlite_write: a negative count, or no column or too many");
        goto done;
    }
    if (!(columns = PyMem_Calloc((size_t)n, sizeof(ArrowColumn)))) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t c = 0; c < n; c++) {
        if (column_take(PySequence_Fast_GET_ITEM(sequence, c), count, &columns[c], &most) < 0) goto done;
        int kind = columns[c].kind;
        if (kind != KIND_TEXT && kind != KIND_INTEGER && kind != KIND_REAL) {
            PyErr_SetString(PyExc_ValueError, "sqlite_write: columns are text, integers or reals");
            goto done;
        }
    }
    if (sq.prepare_v2(db, sql, (int)sql_length, &statement, NULL) != 0 || !statement) {
        PyErr_Format(sqlite_operational_error, "%s", sq.errmsg(db));
        goto done;
    }
    if (sq.bind_parameter_count(statement) != n) {
        PyErr_SetString(PyExc_ValueError, "sqlite_write: the statement's parameters are not the columns");
        goto done;
    }
    long long changed = 0;
    int failed = 0;
    char message[512] = "";
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < count && !failed; i++) {
        for (Py_ssize_t c = 0; c < n; c++) {
            const ArrowColumn *column = &columns[c];
            Py_ssize_t at = column->offset + i;
            int place = (int)c + 1;
            if (column->validity.obj && !bit_set(column->validity.buf, at)) {
                sq.bind_null(statement, place);
            } else if (column->kind == KIND_TEXT) {
                const int32_t *bounds = (const int32_t *)column->offsets.buf;
                const char *data = column->data.buf;
                sq.bind_text(statement, place, data + bounds[at], bounds[at + 1] - bounds[at], NULL); /* static */
            } else if (column->kind == KIND_INTEGER) {
                int64_t value;
                memcpy(&value, (const char *)column->data.buf + 8 * at, 8);
                sq.bind_int64(statement, place, value);
            } else {
                double value;
                memcpy(&value, (const char *)column->data.buf + 8 * at, 8);
                sq.bind_double(statement, place, value);
            }
        }
        int code = sq.step(statement);
        if (code == SQLITE_DONE) {
            changed += sq.changes(db);
        } else {
            failed = code;
            snprintf(message, sizeof(message), "%s", sq.errmsg(db));
        }
        sq.reset(statement);
    }
    Py_END_ALLOW_THREADS;
    if (failed) {
        PyObject *error = (failed & 0xff) == SQLITE_CONSTRAINT ? sqlite_integrity_error : sqlite_operational_error;
        PyErr_SetString(error, message);
        goto done;
    }
    result = PyLong_FromLongLong(changed);
done:
    if (statement) sq.finalize(statement);
    if (columns) columns_release(columns, n);
    Py_DECREF(sequence);
    return result;
}

/* ---------------------------------------------------------------- CSV records (transfer/cells.py) */

PyDoc_STRVAR(csv_records_doc,
             "csv_records(columns, quoted, count, quote, delimiter, terminator, into, /) -> int\n\n"
             "`count` records of text columns (as pg_copy_rows takes them, without NULLs: their cells' text) as "
             "the minimal CSV writer writes them, each record ended by `terminator`, written at the start of the "
             "bytearray `into` (grown when it is too short: no view of it may be held then); returns their length. "
             "Cells are joined by `delimiter`; a cell of a column whose byte in `quoted` is 1 that holds the quote, "
             "the delimiter (single ASCII bytes) or a line break is written between quotes, its quotes doubled; a "
             "record of one empty cell is two quotes (not a blank line). The GIL is released while they are "
             "written. One bytearray for every batch of an export: its pages are written again, not faulted in "
             "anew (a new buffer per batch took half the time).");

/* Where the first byte that makes a cell need quotes is in [p, end), or NULL. */
static inline const char *first_special(const char *p, const char *end, const unsigned char *special) {
    for (; p < end; p++)
        if (special[(unsigned char)*p]) return p;
    return NULL;
}

static PyObject *csv_records(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *given, *into;
    Py_buffer quoted, terminator;
    Py_ssize_t count;
    int quote, delimiter;
    if (!PyArg_ParseTuple(args, "O!y*niiy*O!", &PyTuple_Type, &given, &quoted, &count, &quote, &delimiter,
                          &terminator, &PyByteArray_Type, &into))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(given);
    PyObject *result = NULL;
    ArrowColumn *columns = NULL;
    if (count < 0 || n < 1 || quoted.len != n || quote < 0 || quote > 127 || delimiter < 0 || delimiter > 127) {
        PyErr_SetString(PyExc_ValueError, "csv_records: a negative count, no column, not a quoted flag for each "
                                          "column, or a non-ASCII quote or delimiter");
        goto done;
    }
    columns = PyMem_Calloc((size_t)n, sizeof(ArrowColumn));
    if (!columns) {
        PyErr_NoMemory();
        goto done;
    }
    size_t most = 0, size = 0;
    for (Py_ssize_t c = 0; c < n; c++) {
        if (column_take(PyTuple_GET_ITEM(given, c), count, &columns[c], &most) < 0) goto done;
        if (columns[c].kind != KIND_TEXT || columns[c].validity.obj) {
            PyErr_SetString(PyExc_ValueError, "csv_records: a column that is not text, or with NULLs");
            goto done;
        }
        const int32_t *bounds = (const int32_t *)columns[c].offsets.buf + columns[c].offset;
        size += count ? (size_t)(bounds[count] - bounds[0]) : 0;
    }
    /* The most it can take: every byte a quote, every cell quoted, a delimiter after each; shrunk at the end. */
    most = 2 * size + (size_t)count * (3 * (size_t)n + 2 + (size_t)terminator.len);
    if (most > PY_SSIZE_T_MAX) {
        PyErr_SetString(PyExc_OverflowError, "csv_records: too many bytes");
        goto done;
    }
    if ((size_t)PyByteArray_GET_SIZE(into) < most && PyByteArray_Resize(into, (Py_ssize_t)most) < 0) goto done;
    unsigned char special[256] = {0};
    special[quote] = special[delimiter] = special['\n'] = special['\r'] = 1;
    const char *end_text = terminator.buf;
    size_t end_len = (size_t)terminator.len;
    Py_buffer target; /* held while it is written without the GIL: nothing can resize it meanwhile */
    if (PyObject_GetBuffer(into, &target, PyBUF_WRITABLE) < 0) goto done;
    char *out = target.buf, *w = out;
    char *flags = PyMem_Malloc((size_t)n);
    if (!flags) {
        PyBuffer_Release(&target);
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    /* A column none of whose cells holds a special byte (one memchr for each over its text) is looked at no more. */
    for (Py_ssize_t c = 0; c < n; c++) {
        const int32_t *bounds = (const int32_t *)columns[c].offsets.buf + columns[c].offset;
        const char *text = (const char *)columns[c].data.buf + (count ? bounds[0] : 0);
        size_t length = count ? (size_t)(bounds[count] - bounds[0]) : 0;
        flags[c] = ((const char *)quoted.buf)[c] &&
                   (memchr(text, quote, length) || memchr(text, delimiter, length) || memchr(text, '\n', length) ||
                    memchr(text, '\r', length));
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        for (Py_ssize_t c = 0; c < n; c++) {
            const ArrowColumn *column = &columns[c];
            const int32_t *bounds = (const int32_t *)column->offsets.buf;
            Py_ssize_t at = column->offset + i;
            const char *p = (const char *)column->data.buf + bounds[at], *end = (const char *)column->data.buf + bounds[at + 1];
            if (c) *w++ = (char)delimiter;
            const char *hit = flags[c] ? first_special(p, end, special) : NULL;
            if (!hit) {
                if (n == 1 && p == end) *w++ = (char)quote, *w++ = (char)quote;
                memcpy(w, p, (size_t)(end - p));
                w += end - p;
                continue;
            }
            *w++ = (char)quote;
            const char *mark;
            while ((mark = memchr(p, quote, (size_t)(end - p))) != NULL) { /* up to each quote, then it again */
                memcpy(w, p, (size_t)(mark + 1 - p));
                w += mark + 1 - p;
                *w++ = (char)quote;
                p = mark + 1;
            }
            memcpy(w, p, (size_t)(end - p));
            w += end - p;
            *w++ = (char)quote;
        }
        memcpy(w, end_text, end_len);
        w += end_len;
    }
    Py_END_ALLOW_THREADS;
    PyMem_Free(flags);
    PyBuffer_Release(&target);
    result = PyLong_FromSsize_t(w - out);
done:
    if (columns) columns_release(columns, n);
    PyBuffer_Release(&quoted);
    PyBuffer_Release(&terminator);
    return result;
}

/* ---------------------------------------------------------------- dict rows from Arrow (objects/arrow.py) */

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* A JSON cell as values: parsed here where the text is one JSON value this parser reads exactly as orjson does,
 * else by `parse_json` (objects/base.parsed_json: orjson, the standard parser, or the text as it is). */
static PyObject *json_cell(Parser *ps, const char *p, size_t n, PyObject *parse_json) {
    ps->line = ps->s = (const unsigned char *)p;
    ps->end = ps->s + n;
    ps->text.len = ps->stack.len = ps->arena.len = 0;
    ps->depth = 0;
    if (buf_grow(&ps->text, n)) return PyErr_NoMemory();
    Node top;
    skip_ws(ps);
    int r = parse_value(ps, &top);
    if (r == NOMEM) return PyErr_NoMemory();
    if (r == OK) {
        skip_ws(ps);
        if (ps->s == ps->end) return value_object(ps, &top);
    }
    PyObject *text = PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "strict");
    if (!text) return NULL;
    PyObject *found = PyObject_CallOneArg(parse_json, text);
    Py_DECREF(text);
    return found;
}

static PyObject *cell_object(const ArrowColumn *column, Py_ssize_t at, Parser *ps, PyObject *parse_json) {
    if (column->validity.obj && !bit_set(column->validity.buf, at)) Py_RETURN_NONE;
    const char *data = column->data.buf;
    switch (column->kind) {
    case KIND_TEXT:
    case KIND_JSON: {
        const int32_t *bounds = (const int32_t *)column->offsets.buf;
        const char *p = data + bounds[at];
        size_t n = (size_t)(bounds[at + 1] - bounds[at]);
        if (column->kind == KIND_TEXT) return PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "strict");
        return json_cell(ps, p, n, parse_json);
    }
    case KIND_BOOLEAN: return PyBool_FromLong(bit_set((const unsigned char *)data, at));
    case KIND_REAL: {
        double value;
        memcpy(&value, data + 8 * at, 8);
        return PyFloat_FromDouble(value);
    }
    case KIND_TIMESTAMP: {
        int64_t micros, days, rest;
        memcpy(&micros, data + 8 * at, 8);
        days = micros / 86400000000LL;
        rest = micros % 86400000000LL;
        if (rest < 0) rest += 86400000000LL, days--;
        int y, m, d;
        civil_from_days(days, &y, &m, &d);
        int64_t seconds = rest / 1000000;
        return PyDateTimeAPI->DateTime_FromDateAndTime(y, m, d, (int)(seconds / 3600), (int)(seconds / 60 % 60),
                                                       (int)(seconds % 60), (int)(rest % 1000000),
                                                       PyDateTime_TimeZone_UTC, PyDateTimeAPI->DateTimeType);
    }
    default: {
        int64_t value;
        memcpy(&value, data + 8 * at, 8);
        return PyLong_FromLongLong(value);
    }
    }
}

/* The rows of Arrow columns as dicts, one at a time: a row the caller drops before taking the next one gives
 * its allocations back to the cyclic collector's count, so a read of millions of rows starts no collection
 * (a list of thousands of new dicts would start one per list, traversing them all). */
typedef struct {
    PyObject_HEAD
    PyObject *names, *parse_json; /* a tuple of str; the callable JSON text is left to */
    ArrowColumn *columns;
    Py_ssize_t n, count, next;
    Parser ps;
} ArrowDicts;

static void ArrowDicts_dealloc(ArrowDicts *it) {
    if (it->columns) columns_release(it->columns, it->n);
    Py_XDECREF(it->names);
    Py_XDECREF(it->parse_json);
    buf_free(&it->ps.text);
    free(it->ps.stack.p);
    free(it->ps.arena.p);
    Py_TYPE(it)->tp_free((PyObject *)it);
}

static PyObject *ArrowDicts_next(ArrowDicts *it) {
    if (it->next >= it->count) return NULL;
    Py_ssize_t i = it->next++;
    PyObject *row = _PyDict_NewPresized(it->n);
    if (!row) return NULL;
    for (Py_ssize_t c = 0; c < it->n; c++) {
        PyObject *value = cell_object(&it->columns[c], it->columns[c].offset + i, &it->ps, it->parse_json);
        if (!value) goto failed;
        int set = PyDict_SetItem(row, PyTuple_GET_ITEM(it->names, c), value);
        Py_DECREF(value);
        if (set) goto failed;
    }
    return row;
failed:
    Py_DECREF(row);
    return NULL;
}

PyDoc_STRVAR(arrow_dicts_doc,
             "arrow_dicts(names, columns, count, parse_json) -> iterator of dict\n\n"
             "The first `count` rows of Arrow columns (as pg_copy_rows takes them) as dicts keyed by `names`, in "
             "order: text as str, JSON as values (`parse_json` called with a text this parser leaves to it), int8, "
             "float8, booleans, timestamps (microseconds) as datetimes in UTC (datetime.timezone.utc).");

static PyTypeObject ArrowDictsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "iterbridge._eventscan.ArrowDicts",
    .tp_basicsize = sizeof(ArrowDicts),
    .tp_dealloc = (destructor)ArrowDicts_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = arrow_dicts_doc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)ArrowDicts_next,
};

static PyObject *arrow_dicts(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *names, *given, *parse_json;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "O!O!nO", &PyTuple_Type, &names, &PyTuple_Type, &given, &count, &parse_json))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(given);
    if (count < 0 || PyTuple_GET_SIZE(names) != n) {
        PyErr_SetString(PyExc_ValueError, "arrow_dicts: a negative count, or not a name for each column");
        return NULL;
    }
    for (Py_ssize_t c = 0; c < n; c++)
        if (!PyUnicode_Check(PyTuple_GET_ITEM(names, c))) {
            PyErr_SetString(PyExc_TypeError, "arrow_dicts: a column's name is not a str");
            return NULL;
        }
    ArrowDicts *it = PyObject_New(ArrowDicts, &ArrowDictsType);
    if (!it) return NULL;
    memset(&it->ps, 0, sizeof(it->ps));
    it->names = Py_NewRef(names);
    it->parse_json = Py_NewRef(parse_json);
    it->n = n, it->count = count, it->next = 0;
    it->columns = PyMem_Calloc(n ? (size_t)n : 1, sizeof(ArrowColumn));
    if (!it->columns) {
        Py_DECREF(it);
        return PyErr_NoMemory();
    }
    size_t most = 0;
    for (Py_ssize_t c = 0; c < n; c++)
        if (column_take(PyTuple_GET_ITEM(given, c), count, &it->columns[c], &most) < 0) {
            Py_DECREF(it);
            return NULL;
        }
    return (PyObject *)it;
}

static PyMethodDef module_methods[] = {
    {"pg_copy_rows", pg_copy_rows, METH_VARARGS, pg_copy_doc},
    {"sqlite_bind_library", sqlite_bind_library, METH_VARARGS, sqlite_bind_doc},
    {"sqlite_write", sqlite_write, METH_VARARGS, sqlite_write_doc},
    {"arrow_dicts", arrow_dicts, METH_VARARGS, arrow_dicts_doc},
    {"csv_records", csv_records, METH_VARARGS, csv_records_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_eventscan",
    "Events' and users' export lines into Arrow buffers, in C (see the source's header).",
    -1, module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__eventscan(void) {
    static const char *const libraries[] = {"libcrypto.so.3", "libcrypto.so", "libcrypto.dylib", NULL};
    for (int i = 0; libraries[i] && !sha256_final; i++) {
        void *library = dlopen(libraries[i], RTLD_NOW | RTLD_LOCAL);
        if (!library) continue;
        sha256_init = (sha256_init_fn)dlsym(library, "SHA256_Init");
        sha256_update = (sha256_update_fn)dlsym(library, "SHA256_Update");
        sha256_final = (sha256_final_fn)dlsym(library, "SHA256_Final");
        if (!sha256_init || !sha256_update) sha256_final = NULL;
    }
    if (!sha256_final) {
        PyErr_SetString(PyExc_ImportError, "no libcrypto with SHA256 found");
        return NULL;
    }
    for (int i = 0; FIELD_NAMES[i]; i++) field_lengths[i] = strlen(FIELD_NAMES[i]);
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI) return NULL;
    init_tables();
    if (PyType_Ready(&BuilderType) < 0 || PyType_Ready(&UserBuilderType) < 0 || PyType_Ready(&ArrowDictsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Builder", (PyObject *)&BuilderType) < 0 ||
        PyModule_AddObjectRef(m, "UserBuilder", (PyObject *)&UserBuilderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
