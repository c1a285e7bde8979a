/* SPDX-License-Identifier: Apache-2.0 */
/*
 * demangle.c: Itanium C++ ABI demangler without malloc.
 *
 * Parsing builds a small tree in a fixed node arena (substitutions and
 * template parameters point at earlier nodes, so it is a DAG); printing walks
 * it into the caller's buffer.  Types print in two halves (left and right of
 * the declarator) so that "void (*)(int)" and "int (&) [4]" come out in C++
 * order.  The grammar and the substitution-candidate rules follow the ABI as
 * GNU libiberty reads it, and the text matches c++filt's.
 *
 * Every input is untrusted: all reads are bounded by the end pointer, the
 * arena, lists, substitution table, recursion depth and print work are
 * capped, and running out of any of them makes the whole call return false.
 */
#include "demangle.h"

#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "os.h"

#define DM_NODES     4096
#define DM_POOL      4096
#define DM_TMP       1024
#define DM_SUBS      1024
#define DM_DEPTH     160       /* parser recursion */
#define DM_PDEPTH    400       /* printer recursion */
#define DM_STEPS     200000    /* printer work: a DAG can expand exponentially */
#define DM_MAX_INPUT 16384

enum kind {
	K_NAME,         /* s: identifier */
	K_STR,          /* s: fixed text */
	K_STD,          /* s: standard substitution (St, Sa, Ss...) */
	K_BUILTIN,      /* s: type name, flags: mangling letter (for literals) */
	K_NESTED,       /* a::b */
	K_TEMPLATE,     /* a<list b> */
	K_ABI,          /* a[abi:b] */
	K_CTOR,         /* a: class name, flags 1 = destructor */
	K_CONV,         /* operator a */
	K_OPER,         /* operator s */
	K_LITOP,        /* operator"" a */
	K_LOCAL,        /* a::b (a: encoding) */
	K_DEFARG,       /* {default arg#flags}::a */
	K_LAMBDA,       /* {lambda(list a)#b} */
	K_UNNAMED,      /* {unnamed type#b} */
	K_AUTO,         /* auto:b (template parameter of a generic lambda) */
	K_QUAL,         /* a, flags: CV_* */
	K_PTR, K_LREF, K_RREF,
	K_COMPLEX, K_IMAG,
	K_FUNC,         /* return a (or -1), params list b; flags CV_*, c: ref-qualifier */
	K_ARRAY,        /* element a, dimension s */
	K_PTRMEM,       /* class a, member b */
	K_TPARAM,       /* b: index of the template argument it stands for */
	K_PACK,         /* list a */
	K_EXPANSION,    /* a... */
	K_LITERAL,      /* type a, value s, flags 1 = negative */
	K_ENCODING,     /* name a, K_FUNC b or -1; c = 1: hide the return type */
	K_SPECIAL,      /* s a [-in- b] */
	K_CLONE,        /* a [clone s] */
	K_VQUAL,        /* a b (vendor qualifier b) */
	K_FLOATN,       /* _Float<b>, flags 1 = "x" */
	K_LIST,         /* pool[a .. a+b) */
	K_UNARY,        /* s a (expression) */
	K_BINARY,       /* a s b (expression) */
	K_FPARAM,       /* {parm#b} */
};

#define CV_CONST    1
#define CV_VOLATILE 2
#define CV_RESTRICT 4
#define CV_NOEXCEPT 8

struct node {
	uint8_t kind;
	uint8_t flags;
	int32_t a, b, c;
	uint32_t len;
	const char *s;
};

struct dm {
	const char *p, *end;
	int nn, npool, ntmp, nsubs;
	int last_name;   /* the name a constructor or destructor repeats */
	int depth, lambda_depth;
	int bad;
	char *out;
	size_t cap, len;
	char lastc;      /* like libiberty: not rewound when ", " is taken back */
	int pack_index;
	int pdepth;
	/* Template argument lists T_ refers to while printing (innermost last):
	 * like c++filt, T_ is bound when printed, not when parsed, because a
	 * substitution of T_ means "the parameter", in whatever scope it is used. */
	int tstack[64];
	int ntstack;
	long steps;
	struct node nodes[DM_NODES];
	int pool[DM_POOL];
	int tmp[DM_TMP];
	int subs[DM_SUBS];
};

/* ---- arena ------------------------------------------------------------ */

static int fail(struct dm *d)
{
	d->bad = 1;
	return -1;
}

static int mk(struct dm *d, int kind, int a, int b)
{
	if (d->bad || d->nn >= DM_NODES)
		return fail(d);
	struct node *n = &d->nodes[d->nn];
	memset(n, 0, sizeof *n);
	n->kind = (uint8_t)kind;
	n->a = a;
	n->b = b;
	n->c = -1;
	return d->nn++;
}

static int mk_s(struct dm *d, int kind, const char *s, size_t len)
{
	int id = mk(d, kind, -1, -1);
	if (id >= 0) {
		d->nodes[id].s = s;
		d->nodes[id].len = (uint32_t)len;
	}
	return id;
}

#define MK_LIT(d, kind, lit) mk_s((d), (kind), (lit), sizeof(lit) - 1)

static struct node *N(struct dm *d, int id)
{
	return &d->nodes[id];
}

static void push(struct dm *d, int id)
{
	if (id < 0 || d->ntmp >= DM_TMP) {
		fail(d);
		return;
	}
	d->tmp[d->ntmp++] = id;
}

/* Turns tmp[mark..] into a K_LIST node. */
static int end_list(struct dm *d, int mark)
{
	int count = d->ntmp - mark;
	if (d->bad || d->npool + count > DM_POOL)
		return fail(d);
	int id = mk(d, K_LIST, d->npool, count);
	if (id < 0)
		return -1;
	memcpy(&d->pool[d->npool], &d->tmp[mark], (size_t)count * sizeof(int));
	d->npool += count;
	d->ntmp = mark;
	return id;
}

static void add_sub(struct dm *d, int id)
{
	if (id < 0 || d->nsubs >= DM_SUBS) {
		fail(d);
		return;
	}
	d->subs[d->nsubs++] = id;
}

/* ---- input ------------------------------------------------------------ */

static char pk(const struct dm *d)
{
	return d->p < d->end ? *d->p : '\0';
}

static char pk2(const struct dm *d)
{
	return d->p + 1 < d->end ? d->p[1] : '\0';
}

static int accept(struct dm *d, char c)
{
	if (pk(d) == c && c) {
		d->p++;
		return 1;
	}
	return 0;
}

static int expect(struct dm *d, char c)
{
	if (!accept(d, c))
		fail(d);
	return !d->bad;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_lower(char c) { return c >= 'a' && c <= 'z'; }
static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }

/* Non-negative decimal, capped far below overflow. */
static int number(struct dm *d, long *out)
{
	long v = 0;
	if (!is_digit(pk(d)))
		return 0;
	while (is_digit(pk(d))) {
		if (v > 100000000L)
			return 0;
		v = v * 10 + (*d->p++ - '0');
	}
	*out = v;
	return 1;
}

/* ---- grammar ---------------------------------------------------------- */

static int type(struct dm *d);
static int encoding(struct dm *d);
static int name(struct dm *d, int substable, int *cv, int *ref);
static int template_args(struct dm *d);
static int expression(struct dm *d);
static int expr_primary(struct dm *d);

static int enter(struct dm *d)
{
	if (d->bad || ++d->depth > DM_DEPTH)
		return fail(d), 0;
	return 1;
}

static int leave(struct dm *d, int id)
{
	d->depth--;
	return d->bad ? -1 : id;
}

static int source_name(struct dm *d)
{
	long n;
	if (!number(d, &n) || n <= 0 || n > d->end - d->p)
		return fail(d);
	const char *s = d->p;
	d->p += n;
	int id;
	if (n >= 10 && memcmp(s, "_GLOBAL_", 8) == 0 &&
	    (s[8] == '.' || s[8] == '_' || s[8] == '$') && s[9] == 'N')
		id = MK_LIT(d, K_STR, "(anonymous namespace)");
	else
		id = mk_s(d, K_NAME, s, (size_t)n);
	d->last_name = id;
	return id;
}

static int discriminator(struct dm *d)
{
	if (!accept(d, '_'))
		return 1;
	int two = accept(d, '_');
	long n;
	if (!number(d, &n))
		return fail(d), 0;
	if (two && n >= 10 && !accept(d, '_'))
		return fail(d), 0;
	return 1;
}

/* [<number>] _ : absent number = 0, else number + 1. */
static int seq_number(struct dm *d, long *out)
{
	long n = -1;
	if (is_digit(pk(d)) && !number(d, &n))
		return fail(d), 0;
	if (!expect(d, '_'))
		return 0;
	*out = n + 1;
	return 1;
}

static const struct { char code[3]; const char *text; } ops[] = {
	{ "aN", "&=" }, { "aS", "=" }, { "aa", "&&" }, { "ad", "&" }, { "an", "&" },
	{ "aw", "co_await" }, { "cl", "()" }, { "cm", "," }, { "co", "~" },
	{ "dV", "/=" }, { "da", "delete[]" }, { "de", "*" }, { "dl", "delete" },
	{ "dv", "/" }, { "eO", "^=" }, { "eo", "^" }, { "eq", "==" }, { "ge", ">=" },
	{ "gt", ">" }, { "ix", "[]" }, { "lS", "<<=" }, { "le", "<=" }, { "ls", "<<" },
	{ "lt", "<" }, { "mI", "-=" }, { "mL", "*=" }, { "mi", "-" }, { "ml", "*" },
	{ "mm", "--" }, { "na", "new[]" }, { "ne", "!=" }, { "ng", "-" }, { "nt", "!" },
	{ "nw", "new" }, { "oR", "|=" }, { "oo", "||" }, { "or", "|" }, { "pL", "+=" },
	{ "pl", "+" }, { "pm", "->*" }, { "pp", "++" }, { "ps", "+" }, { "pt", "->" },
	{ "qu", "?" }, { "rM", "%=" }, { "rS", ">>=" }, { "rm", "%" }, { "rs", ">>" },
	{ "ss", "<=>" },
};

static int operator_name(struct dm *d)
{
	char c1 = pk(d), c2 = pk2(d);
	if (c1 == 'c' && c2 == 'v') {
		d->p += 2;
		int t = type(d);
		return t < 0 ? -1 : mk(d, K_CONV, t, -1);
	}
	if (c1 == 'l' && c2 == 'i') {
		d->p += 2;
		int s = source_name(d);
		return s < 0 ? -1 : mk(d, K_LITOP, s, -1);
	}
	if (c1 == 'v' && is_digit(c2)) {
		d->p += 2;
		int s = source_name(d);
		return s < 0 ? -1 : mk(d, K_CONV, s, -1);
	}
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		if (ops[i].code[0] == c1 && ops[i].code[1] == c2) {
			d->p += 2;
			return mk_s(d, K_OPER, ops[i].text, strlen(ops[i].text));
		}
	}
	return fail(d);
}

static int ctor_dtor_name(struct dm *d)
{
	if (d->last_name < 0)
		return fail(d);
	int dtor = pk(d) == 'D';
	d->p++;
	int inheriting = !dtor && accept(d, 'I');
	char k = pk(d);
	if (dtor ? !(k == '0' || k == '1' || k == '2' || k == '4' || k == '5')
		 : !(k >= '1' && k <= '5'))
		return fail(d);
	d->p++;
	int id = mk(d, K_CTOR, d->last_name, -1);
	if (id >= 0)
		N(d, id)->flags = (uint8_t)dtor;
	if (inheriting && type(d) < 0)
		return -1;
	return id;
}

/* A list of types up to 'E' (or a ref-qualifier and 'E', or the end of a
 * top-level encoding), "v" alone meaning none. */
static int param_list(struct dm *d, int allow_empty)
{
	int mark = d->ntmp;
	for (;;) {
		char c = pk(d);
		if (c == '\0' || c == 'E' || c == '.')
			break;
		if ((c == 'R' || c == 'O') && pk2(d) == 'E')
			break;
		push(d, type(d));
		if (d->bad)
			return -1;
	}
	int count = d->ntmp - mark;
	if (count == 0 && !allow_empty)
		return fail(d);
	if (count == 1) {
		struct node *t = N(d, d->tmp[mark]);
		if (t->kind == K_BUILTIN && t->flags == 'v')
			d->ntmp = mark;
	}
	return end_list(d, mark);
}

static int unnamed_or_lambda(struct dm *d)
{
	char c = pk2(d);
	d->p += 2;
	if (c == 't') {
		long n;
		if (!seq_number(d, &n))
			return -1;
		int id = mk(d, K_UNNAMED, -1, (int)n + 1);
		return id;
	}
	/* Ul <lambda-sig> E [<number>] _ */
	d->lambda_depth++;
	int params = param_list(d, 0);
	d->lambda_depth--;
	long n;
	if (params < 0 || !expect(d, 'E') || !seq_number(d, &n))
		return -1;
	return mk(d, K_LAMBDA, params, (int)n + 1);
}

static int unqualified_name(struct dm *d, int prefix)
{
	char c = pk(d);
	int r;
	if (is_digit(c)) {
		r = source_name(d);
	} else if (is_lower(c)) {
		r = operator_name(d);
	} else if (c == 'C' || (c == 'D' && (pk2(d) == '0' || pk2(d) == '1' || pk2(d) == '2' ||
					   pk2(d) == '4' || pk2(d) == '5'))) {
		r = ctor_dtor_name(d);
	} else if (c == 'L') {
		d->p++;
		r = source_name(d);
		if (r >= 0 && !discriminator(d))
			return -1;
	} else if (c == 'U' && (pk2(d) == 't' || pk2(d) == 'l')) {
		r = unnamed_or_lambda(d);
	} else {
		return fail(d);
	}
	while (r >= 0 && pk(d) == 'B') {
		d->p++;
		int keep = d->last_name;
		int tag = source_name(d);
		d->last_name = keep;
		r = tag < 0 ? -1 : mk(d, K_ABI, r, tag);
	}
	if (r >= 0 && prefix >= 0)
		r = mk(d, K_NESTED, prefix, r);
	return r;
}

static const struct {
	char code;
	const char *text;
	const char *last;
} std_subs[] = {
	{ 't', "std", NULL },
	{ 'a', "std::allocator", "allocator" },
	{ 'b', "std::basic_string", "basic_string" },
	{ 's', "std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "basic_string" },
	{ 'i', "std::basic_istream<char, std::char_traits<char> >", "basic_istream" },
	{ 'o', "std::basic_ostream<char, std::char_traits<char> >", "basic_ostream" },
	{ 'd', "std::basic_iostream<char, std::char_traits<char> >", "basic_iostream" },
};

static int substitution(struct dm *d)
{
	d->p++; /* S */
	char c = pk(d);
	long idx;
	if (c == '_') {
		d->p++;
		idx = 0;
	} else if (is_digit(c) || is_upper(c)) {
		long v = 0;
		while (is_digit(pk(d)) || is_upper(pk(d))) {
			char x = *d->p++;
			v = v * 36 + (is_digit(x) ? x - '0' : x - 'A' + 10);
			if (v > DM_SUBS)
				return fail(d);
		}
		if (!expect(d, '_'))
			return -1;
		idx = v + 1;
	} else {
		for (size_t i = 0; i < sizeof std_subs / sizeof std_subs[0]; i++) {
			if (std_subs[i].code != c)
				continue;
			d->p++;
			if (std_subs[i].last)
				d->last_name = mk_s(d, K_NAME, std_subs[i].last, strlen(std_subs[i].last));
			return mk_s(d, K_STD, std_subs[i].text, strlen(std_subs[i].text));
		}
		return fail(d);
	}
	if (idx >= d->nsubs)
		return fail(d);
	return d->subs[idx];
}

static int template_param(struct dm *d)
{
	d->p++; /* T */
	long idx;
	if (!seq_number(d, &idx))
		return -1;
	if (idx > DM_NODES)
		return fail(d);
	return mk(d, d->lambda_depth > 0 ? K_AUTO : K_TPARAM, -1, (int)idx + (d->lambda_depth > 0));
}

static int nested_name(struct dm *d, int *cv, int *ref)
{
	d->p++; /* N */
	int q = 0;
	for (;;) {
		if (accept(d, 'r'))
			q |= CV_RESTRICT;
		else if (accept(d, 'V'))
			q |= CV_VOLATILE;
		else if (accept(d, 'K'))
			q |= CV_CONST;
		else
			break;
	}
	*cv = q;
	*ref = accept(d, 'R') ? 1 : accept(d, 'O') ? 2 : 0;
	int ret = -1;
	for (;;) {
		char c = pk(d);
		int from_sub = 0;
		if (c == '\0')
			return fail(d);
		if (c == 'E') {
			if (ret < 0)
				return fail(d);
			d->p++;
			return ret;
		}
		if (c == 'I') {
			if (ret < 0)
				return fail(d);
			int args = template_args(d);
			ret = args < 0 ? -1 : mk(d, K_TEMPLATE, ret, args);
		} else if (c == 'T') {
			if (ret >= 0)
				return fail(d);
			ret = template_param(d);
		} else if (c == 'M') {
			d->p++;
			continue;
		} else if (c == 'S') {
			if (ret >= 0)
				return fail(d);
			ret = substitution(d);
			from_sub = 1;
		} else if (c == 'D' && (pk2(d) == 't' || pk2(d) == 'T')) {
			return fail(d);
		} else {
			ret = unqualified_name(d, ret);
		}
		if (ret < 0 || d->bad)
			return fail(d);
		if (pk(d) == 'E') {
			d->p++;
			return ret;
		}
		if (!from_sub)
			add_sub(d, ret);
	}
}

static int local_name(struct dm *d, int *cv, int *ref)
{
	d->p++; /* Z */
	int enc = encoding(d);
	if (enc < 0 || !expect(d, 'E'))
		return -1;
	int ent;
	if (accept(d, 's')) {
		if (!discriminator(d))
			return -1;
		ent = MK_LIT(d, K_STR, "string literal");
	} else {
		long num = -1;
		if (accept(d, 'd') && !seq_number(d, &num))
			return -1;
		ent = name(d, 0, cv, ref);
		if (ent < 0)
			return -1;
		int k = N(d, ent)->kind;
		if (k != K_LAMBDA && k != K_UNNAMED && !discriminator(d))
			return -1;
		if (num >= 0) {
			ent = mk(d, K_DEFARG, ent, -1);
			if (ent >= 0)
				N(d, ent)->c = (int)num;
		}
	}
	/* Like c++filt: the enclosing function's return type is not shown. */
	if (N(d, enc)->kind == K_ENCODING)
		N(d, enc)->c = 1;
	return mk(d, K_LOCAL, enc, ent);
}

static int name(struct dm *d, int substable, int *cv, int *ref)
{
	if (!enter(d))
		return -1;
	char c = pk(d);
	int dc = -1, subst = 0;
	if (c == 'N') {
		dc = nested_name(d, cv, ref);
	} else if (c == 'Z') {
		dc = local_name(d, cv, ref);
	} else {
		if (c == 'S') {
			if (pk2(d) == 't') {
				d->p += 2;
				dc = MK_LIT(d, K_STD, "std");
			} else {
				dc = substitution(d);
				subst = 1;
			}
		}
		if (!subst)
			dc = unqualified_name(d, dc);
		if (dc >= 0 && pk(d) == 'I') {
			if (!subst)
				add_sub(d, dc);
			int args = template_args(d);
			dc = args < 0 ? -1 : mk(d, K_TEMPLATE, dc, args);
			subst = 0;
		}
	}
	if (dc >= 0 && substable && !subst)
		add_sub(d, dc);
	return leave(d, dc);
}

static int expr_primary(struct dm *d)
{
	d->p++; /* L */
	if ((pk(d) == '_' && pk2(d) == 'Z') || pk(d) == 'Z') {
		d->p += pk(d) == '_' ? 2 : 1;
		int enc = encoding(d);
		if (enc < 0 || !expect(d, 'E'))
			return -1;
		return enc;
	}
	int t = type(d);
	if (t < 0)
		return -1;
	int neg = accept(d, 'n');
	const char *s = d->p;
	while (pk(d) != 'E') {
		if (pk(d) == '\0')
			return fail(d);
		d->p++;
	}
	int id = mk_s(d, K_LITERAL, s, (size_t)(d->p - s));
	d->p++;
	if (id >= 0) {
		N(d, id)->a = t;
		N(d, id)->flags = (uint8_t)neg;
	}
	return id;
}

static int template_arg(struct dm *d)
{
	if (!enter(d))
		return -1;
	int r;
	char c = pk(d);
	if (c == 'L') {
		r = expr_primary(d);
	} else if (c == 'J') {
		d->p++;
		int mark = d->ntmp;
		while (!d->bad && pk(d) != 'E') {
			if (pk(d) == '\0')
				return leave(d, fail(d));
			push(d, template_arg(d));
		}
		d->p++;
		int l = end_list(d, mark);
		r = l < 0 ? -1 : mk(d, K_PACK, l, -1);
	} else if (c == 'X') {
		d->p++;
		r = expression(d);
		if (r >= 0 && !expect(d, 'E'))
			r = -1;
	} else {
		r = type(d);
	}
	return leave(d, r);
}

/* <base-unresolved-name>: simple-id or on <operator> (not dn <destructor>). */
static int base_unresolved(struct dm *d)
{
	int r;
	if (pk(d) == 'o' && pk2(d) == 'n') {
		d->p += 2;
		r = operator_name(d);
	} else if (pk(d) == 'd' && pk2(d) == 'n') {
		return fail(d); /* destructor names in expressions: not supported */
	} else {
		r = source_name(d);
	}
	if (r >= 0 && pk(d) == 'I') {
		int args = template_args(d);
		r = args < 0 ? -1 : mk(d, K_TEMPLATE, r, args);
	}
	return r;
}

/* sr ...: a name that depends on template parameters, printed a::b::c. */
static int unresolved_name(struct dm *d)
{
	int q;
	int levels = 0;
	if (pk(d) == 'N') {
		d->p++;
		q = type(d);
		levels = 1;
	} else if (pk(d) == 'T' || pk(d) == 'S' || pk(d) == 'D') {
		q = type(d);
	} else {
		/* sr <qualifier-level>+ E: no level is a substitution candidate */
		q = -1;
		levels = 1;
	}
	if (q < 0 && !levels)
		return -1;
	if (levels) {
		while (pk(d) != 'E') {
			if (pk(d) == '\0' || d->bad)
				return fail(d);
			int l = source_name(d);
			if (l >= 0 && pk(d) == 'I') {
				int args = template_args(d);
				l = args < 0 ? -1 : mk(d, K_TEMPLATE, l, args);
			}
			if (l < 0)
				return -1;
			q = q < 0 ? l : mk(d, K_NESTED, q, l);
			if (q < 0)
				return -1;
		}
		d->p++;
	}
	int b = base_unresolved(d);
	if (q < 0)
		return fail(d);
	return b < 0 ? -1 : mk(d, K_NESTED, q, b);
}

static const struct { char code[3]; const char *text; } unary_ops[] = {
	{ "nt", "!" }, { "ng", "-" }, { "ad", "&" }, { "de", "*" }, { "co", "~" },
	{ "ps", "+" },
};

static const struct { char code[3]; const char *text; } binary_ops[] = {
	{ "aa", "&&" }, { "oo", "||" }, { "eq", "==" }, { "ne", "!=" }, { "lt", "<" },
	{ "gt", ">" }, { "le", "<=" }, { "ge", ">=" }, { "pl", "+" }, { "mi", "-" },
	{ "ml", "*" }, { "dv", "/" }, { "rm", "%" }, { "an", "&" }, { "or", "|" },
	{ "eo", "^" }, { "ls", "<<" }, { "rs", ">>" },
};

/* The expressions template arguments use in practice (enable_if
 * conditions, function addresses); anything else fails. */
static int expression(struct dm *d)
{
	if (!enter(d))
		return -1;
	char c = pk(d), c2 = pk2(d);
	int r = -1;
	if (c == 'L') {
		r = expr_primary(d);
	} else if (c == 'T') {
		r = template_param(d);
	} else if (c == 's' && c2 == 'r') {
		d->p += 2;
		r = unresolved_name(d);
	} else if (c == 'f' && c2 == 'p') {
		d->p += 2;
		while (accept(d, 'r') || accept(d, 'V') || accept(d, 'K'))
			;
		long n;
		if (seq_number(d, &n))
			r = mk(d, K_FPARAM, -1, (int)n + 1);
	} else if (is_digit(c)) {
		r = base_unresolved(d);
	} else {
		for (size_t i = 0; i < MA_ARRAY_LEN(unary_ops) && r < 0; i++) {
			if (unary_ops[i].code[0] != c || unary_ops[i].code[1] != c2)
				continue;
			d->p += 2;
			int e = expression(d);
			r = e < 0 ? -1 : mk_s(d, K_UNARY, unary_ops[i].text, strlen(unary_ops[i].text));
			if (r >= 0)
				N(d, r)->a = e;
			return leave(d, r);
		}
		for (size_t i = 0; i < MA_ARRAY_LEN(binary_ops); i++) {
			if (binary_ops[i].code[0] != c || binary_ops[i].code[1] != c2)
				continue;
			d->p += 2;
			int l = expression(d);
			int rr = l < 0 ? -1 : expression(d);
			r = rr < 0 ? -1 : mk_s(d, K_BINARY, binary_ops[i].text, strlen(binary_ops[i].text));
			if (r >= 0) {
				N(d, r)->a = l;
				N(d, r)->b = rr;
			}
			return leave(d, r);
		}
		fail(d);
	}
	return leave(d, r);
}

static int template_args(struct dm *d)
{
	/* Arguments must not change the name a later constructor repeats. */
	int keep = d->last_name;
	d->p++; /* I */
	int mark = d->ntmp;
	while (!d->bad && pk(d) != 'E') {
		if (pk(d) == '\0')
			return fail(d);
		push(d, template_arg(d));
	}
	d->p++;
	d->last_name = keep;
	return end_list(d, mark);
}

static int function_type(struct dm *d)
{
	d->p++; /* F */
	accept(d, 'Y');
	int ret = type(d);
	if (ret < 0)
		return -1;
	int params = param_list(d, 0);
	if (params < 0)
		return -1;
	int ref = accept(d, 'R') ? 1 : accept(d, 'O') ? 2 : 0;
	if (!expect(d, 'E'))
		return -1;
	int id = mk(d, K_FUNC, ret, params);
	if (id >= 0)
		N(d, id)->c = ref;
	return id;
}

static const char *const builtins[26] = {
	"signed char", "bool", "char", "double", "long double", "float", "__float128",
	"unsigned char", "int", "unsigned int", NULL, "long", "unsigned long", "__int128",
	"unsigned __int128", NULL, NULL, NULL, "short", "unsigned short", NULL, "void",
	"wchar_t", "long long", "unsigned long long", "...",
};

static int type(struct dm *d)
{
	if (!enter(d))
		return -1;
	char c = pk(d);
	int t = -1;

	if (c == 'r' || c == 'V' || c == 'K' || (c == 'D' && pk2(d) == 'o')) {
		int q = 0;
		for (;;) {
			if (accept(d, 'r'))
				q |= CV_RESTRICT;
			else if (accept(d, 'V'))
				q |= CV_VOLATILE;
			else if (accept(d, 'K'))
				q |= CV_CONST;
			else if (pk(d) == 'D' && pk2(d) == 'o') {
				d->p += 2;
				q |= CV_NOEXCEPT;
			} else
				break;
		}
		if (pk(d) == 'F') {
			/* Qualifiers of a member function's `this`: the function
			 * type is one candidate with them, not two. */
			t = function_type(d);
			if (t >= 0)
				N(d, t)->flags = (uint8_t)q;
		} else if (q & CV_NOEXCEPT) {
			return leave(d, fail(d));
		} else {
			int inner = type(d);
			t = inner < 0 ? -1 : mk(d, K_QUAL, inner, -1);
			if (t >= 0)
				N(d, t)->flags = (uint8_t)q;
		}
		add_sub(d, t);
		return leave(d, t);
	}

	if (is_lower(c) && c != 'r' && c != 'u' && builtins[c - 'a']) {
		d->p++;
		t = mk_s(d, K_BUILTIN, builtins[c - 'a'], strlen(builtins[c - 'a']));
		if (t >= 0)
			N(d, t)->flags = (uint8_t)c;
		return leave(d, t);
	}

	int cv, ref;
	switch (c) {
	case 'u':
		d->p++;
		t = source_name(d);
		break;
	case 'F':
		t = function_type(d);
		break;
	case 'N': case 'Z':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return leave(d, name(d, 1, &cv, &ref));
	case 'A': {
		d->p++;
		const char *s = d->p;
		long n;
		if (is_digit(pk(d)) && !number(d, &n))
			return leave(d, fail(d));
		size_t len = (size_t)(d->p - s);
		if (!expect(d, '_'))
			return leave(d, -1);
		int e = type(d);
		t = e < 0 ? -1 : mk_s(d, K_ARRAY, s, len);
		if (t >= 0)
			N(d, t)->a = e;
		break;
	}
	case 'M': {
		d->p++;
		int cls = type(d);
		int mem = cls < 0 ? -1 : type(d);
		t = mem < 0 ? -1 : mk(d, K_PTRMEM, cls, mem);
		break;
	}
	case 'T':
		t = template_param(d);
		if (t >= 0 && pk(d) == 'I') {
			add_sub(d, t);
			int args = template_args(d);
			t = args < 0 ? -1 : mk(d, K_TEMPLATE, t, args);
		}
		break;
	case 'P': case 'R': case 'O': case 'C': case 'G': {
		d->p++;
		int inner = type(d);
		int k = c == 'P' ? K_PTR : c == 'R' ? K_LREF : c == 'O' ? K_RREF
			: c == 'C' ? K_COMPLEX : K_IMAG;
		t = inner < 0 ? -1 : mk(d, k, inner, -1);
		break;
	}
	case 'U': {
		d->p++;
		int q = source_name(d);
		if (q >= 0 && pk(d) == 'I') {
			int args = template_args(d);
			q = args < 0 ? -1 : mk(d, K_TEMPLATE, q, args);
		}
		int inner = q < 0 ? -1 : type(d);
		t = inner < 0 ? -1 : mk(d, K_VQUAL, inner, q);
		break;
	}
	case 'S': {
		char n2 = pk2(d);
		if (is_digit(n2) || n2 == '_' || is_upper(n2)) {
			t = substitution(d);
			if (t >= 0 && pk(d) == 'I') {
				int args = template_args(d);
				t = args < 0 ? -1 : mk(d, K_TEMPLATE, t, args);
				break;
			}
			return leave(d, t);
		}
		return leave(d, name(d, 1, &cv, &ref));
	}
	case 'D': {
		char n2 = pk2(d);
		const char *b = NULL;
		switch (n2) {
		case 'a': b = "auto"; break;
		case 'c': b = "decltype(auto)"; break;
		case 'n': b = "decltype(nullptr)"; break;
		case 'd': b = "decimal64"; break;
		case 'e': b = "decimal128"; break;
		case 'f': b = "decimal32"; break;
		case 'h': b = "half"; break;
		case 'i': b = "char32_t"; break;
		case 's': b = "char16_t"; break;
		case 'u': b = "char8_t"; break;
		default: break;
		}
		if (b) {
			d->p += 2;
			t = mk_s(d, K_BUILTIN, b, strlen(b));
			return leave(d, t);
		}
		if (n2 == 'p') {
			d->p += 2;
			int inner = type(d);
			t = inner < 0 ? -1 : mk(d, K_EXPANSION, inner, -1);
			break;
		}
		if (n2 == 'F') {
			d->p += 2;
			long bits;
			if (!number(d, &bits))
				return leave(d, fail(d));
			int x = accept(d, 'x');
			if (!x && !expect(d, '_'))
				return leave(d, -1);
			t = mk(d, K_FLOATN, -1, (int)bits);
			if (t >= 0)
				N(d, t)->flags = (uint8_t)x;
			return leave(d, t);
		}
		return leave(d, fail(d));
	}
	default:
		return leave(d, fail(d));
	}
	add_sub(d, t);
	return leave(d, t);
}

/* h <number> _  |  v <number> _ <number> _  (numbers may start with n). */
static int call_offset(struct dm *d)
{
	char c = pk(d);
	if (c != 'h' && c != 'v')
		return fail(d), 0;
	d->p++;
	for (int i = 0; i < (c == 'h' ? 1 : 2); i++) {
		long n;
		accept(d, 'n');
		if (!number(d, &n) || !expect(d, '_'))
			return fail(d), 0;
	}
	return 1;
}

static int special(struct dm *d, const char *text, int child)
{
	if (child < 0)
		return -1;
	int id = mk_s(d, K_SPECIAL, text, strlen(text));
	if (id >= 0)
		N(d, id)->a = child;
	return id;
}

static int special_name(struct dm *d)
{
	char c = pk(d), c2 = pk2(d);
	int cv, ref;
	d->p += 2;
	if (c == 'T') {
		switch (c2) {
		case 'V': return special(d, "vtable for ", type(d));
		case 'T': return special(d, "VTT for ", type(d));
		case 'I': return special(d, "typeinfo for ", type(d));
		case 'S': return special(d, "typeinfo name for ", type(d));
		case 'F': return special(d, "typeinfo fn for ", type(d));
		case 'H': return special(d, "TLS init function for ", name(d, 0, &cv, &ref));
		case 'W': return special(d, "TLS wrapper function for ", name(d, 0, &cv, &ref));
		case 'A': return special(d, "template parameter object for ", template_arg(d));
		case 'h':
			d->p--;
			if (!call_offset(d))
				return -1;
			return special(d, "non-virtual thunk to ", encoding(d));
		case 'v':
			d->p--;
			if (!call_offset(d))
				return -1;
			return special(d, "virtual thunk to ", encoding(d));
		case 'c':
			if (!call_offset(d) || !call_offset(d))
				return -1;
			return special(d, "covariant return thunk to ", encoding(d));
		case 'C': {
			int derived = type(d);
			long n;
			if (derived < 0 || !number(d, &n) || !expect(d, '_'))
				return fail(d);
			int base = type(d);
			int id = special(d, "construction vtable for ", base);
			if (id >= 0)
				N(d, id)->b = derived;
			return id;
		}
		default:
			return fail(d);
		}
	}
	switch (c2) {
	case 'V': return special(d, "guard variable for ", name(d, 0, &cv, &ref));
	case 'A': return special(d, "hidden alias for ", encoding(d));
	case 'T':
		if (accept(d, 't'))
			return special(d, "transaction clone for ", encoding(d));
		if (accept(d, 'n'))
			return special(d, "non-transaction clone for ", encoding(d));
		return fail(d);
	default:
		return fail(d);
	}
}

static int is_ctor_dtor_conv(struct dm *d, int id)
{
	for (int i = 0; id >= 0 && i < 64; i++) {
		struct node *n = N(d, id);
		if (n->kind == K_NESTED || n->kind == K_LOCAL)
			id = n->b;
		else
			return n->kind == K_CTOR || n->kind == K_CONV;
	}
	return 0;
}

/* A template function (not a constructor, destructor or conversion) has its
 * return type mangled; this also gives the arguments T_ refers to. */
static int name_targs(struct dm *d, int id, int *has_ret)
{
	for (int i = 0; id >= 0 && i < 64; i++) {
		struct node *n = N(d, id);
		if (n->kind == K_LOCAL) {
			id = n->b;
		} else if (n->kind == K_TEMPLATE) {
			*has_ret = !is_ctor_dtor_conv(d, n->a);
			return n->b;
		} else {
			break;
		}
	}
	*has_ret = 0;
	return -1;
}

static int encoding(struct dm *d)
{
	if (!enter(d))
		return -1;
	char c = pk(d);
	if ((c == 'T' || c == 'G') && d->p + 1 < d->end)
		return leave(d, special_name(d));
	int cv = 0, ref = 0;
	int nm = name(d, 0, &cv, &ref);
	if (nm < 0)
		return leave(d, -1);
	c = pk(d);
	if (c == '\0' || c == 'E')
		return leave(d, mk(d, K_ENCODING, nm, -1));
	int has_ret;
	name_targs(d, nm, &has_ret);
	int ret = has_ret ? type(d) : -1;
	int params = (has_ret && ret < 0) ? -1 : param_list(d, 0);
	int f = params < 0 ? -1 : mk(d, K_FUNC, ret, params);
	if (f < 0)
		return leave(d, -1);
	N(d, f)->flags = (uint8_t)cv;
	N(d, f)->c = ref;
	return leave(d, mk(d, K_ENCODING, nm, f));
}

/* ---- printing --------------------------------------------------------- */

static void emit(struct dm *d, const char *s, size_t n)
{
	if (d->bad)
		return;
	if (n >= d->cap - d->len) {
		fail(d);
		return;
	}
	memcpy(d->out + d->len, s, n);
	d->len += n;
	if (n)
		d->lastc = s[n - 1];
}

#define EMIT_LIT(d, lit) emit((d), (lit), sizeof(lit) - 1)

static void emit_c(struct dm *d, char c)
{
	emit(d, &c, 1);
}

static void emit_num(struct dm *d, long v)
{
	char tmp[24];
	int i = sizeof tmp;
	if (v < 0)
		v = 0;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	emit(d, tmp + i, sizeof tmp - (size_t)i);
}

static char last_char(const struct dm *d)
{
	return d->lastc;
}

/* The argument template parameter `tp` names, `level` lists up the stack
 * (each argument is printed in the scope around the template it belongs
 * to); inside a pack expansion, the current element of a pack. */
static int targ(struct dm *d, const struct node *tp, int level, int index_pack)
{
	if (level >= d->ntstack)
		return -1;
	struct node *l = N(d, d->tstack[d->ntstack - 1 - level]);
	if (tp->b >= l->b)
		return -1;
	int id = d->pool[l->a + tp->b];
	if (index_pack && N(d, id)->kind == K_PACK && d->pack_index >= 0) {
		struct node *pl = N(d, N(d, id)->a);
		if (d->pack_index >= pl->b)
			return -1;
		id = d->pool[pl->a + d->pack_index];
	}
	return id;
}

/* What a type node stands for once template parameters are bound. */
static int resolve(struct dm *d, int id)
{
	for (int level = 0; id >= 0 && level < 64; level++) {
		struct node *n = N(d, id);
		if (n->kind != K_TPARAM)
			return id;
		id = targ(d, n, level, 1);
	}
	return -1;
}

/* The kind a declarator sees: a qualified array is still an array. */
static int kind_of(struct dm *d, int id)
{
	id = resolve(d, id);
	if (id >= 0 && N(d, id)->kind == K_QUAL) {
		int inner = resolve(d, N(d, id)->a);
		if (inner >= 0 && N(d, inner)->kind == K_ARRAY)
			return K_ARRAY;
	}
	return id < 0 ? -1 : N(d, id)->kind;
}

/* Qualifiers a template argument already carries are not repeated
 * ("T const" with T = "X const" prints "X const"). */
static int inner_quals(struct dm *d, int id)
{
	int q = 0;
	for (int i = 0; i < 64; i++) {
		id = resolve(d, id);
		if (id < 0 || N(d, id)->kind != K_QUAL)
			break;
		q |= N(d, id)->flags;
		id = N(d, id)->a;
	}
	return q;
}

static void pr(struct dm *d, int id);
static void pr_left(struct dm *d, int id);
static void pr_right(struct dm *d, int id);
static void pr_subexpr(struct dm *d, int id);

/* Elements separated by ", ".  As in c++filt, separators followed only by
 * elements that print nothing (empty packs) are taken back. */
static void pr_list(struct dm *d, int list)
{
	if (list < 0)
		return;
	struct node *l = N(d, list);
	size_t keep = 0;
	for (int i = 0; i < l->b && !d->bad; i++) {
		if (i > 0)
			EMIT_LIT(d, ", ");
		size_t mark = d->len;
		pr(d, d->pool[l->a + i]);
		if (i == 0 || d->len != mark)
			keep = d->len;
	}
	if (l->b > 0 && !d->bad)
		d->len = keep;
}

static int find_pack(struct dm *d, int id, int depth)
{
	if (id < 0 || depth > 64 || d->bad || ++d->steps > DM_STEPS)
		return -1;
	struct node *n = N(d, id);
	switch (n->kind) {
	case K_TPARAM: {
		int arg = targ(d, n, 0, 0);
		return arg >= 0 && N(d, arg)->kind == K_PACK ? arg : -1;
	}
	case K_PACK:
	case K_EXPANSION:
		return -1;
	case K_LIST:
		for (int i = 0; i < n->b; i++) {
			int r = find_pack(d, d->pool[n->a + i], depth + 1);
			if (r >= 0)
				return r;
		}
		return -1;
	case K_LITERAL:
	case K_ARRAY:
		return find_pack(d, n->a, depth + 1);
	default:
		if (n->s)
			return -1;
		{
			int r = find_pack(d, n->a, depth + 1);
			return r >= 0 ? r : find_pack(d, n->b, depth + 1);
		}
	}
}

static void pr_quals(struct dm *d, int q)
{
	if (q & CV_CONST)
		EMIT_LIT(d, " const");
	if (q & CV_VOLATILE)
		EMIT_LIT(d, " volatile");
	if (q & CV_RESTRICT)
		EMIT_LIT(d, " restrict");
}

/* Reference collapsing, as c++filt does it: & & = &, && & = &, & && = &. */
static int ref_collapse(struct dm *d, int kind, int *child)
{
	for (int i = 0; i < 64; i++) {
		int sub = resolve(d, *child);
		if (sub < 0)
			break;
		struct node *s = N(d, sub);
		if (s->kind == K_LREF || s->kind == kind) {
			kind = s->kind;
			*child = s->a;
		} else if (s->kind == K_RREF) {
			*child = s->a;
		} else {
			break;
		}
	}
	return kind;
}

static int has_rhs(struct dm *d, int id)
{
	for (int i = 0; i < 64; i++) {
		id = resolve(d, id);
		if (id < 0)
			return 0;
		struct node *n = N(d, id);
		switch (n->kind) {
		case K_FUNC: case K_ARRAY:
			return 1;
		case K_PTR: case K_LREF: case K_RREF: case K_QUAL:
			id = n->a;
			break;
		case K_PTRMEM:
			id = n->b;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

static void pr_literal(struct dm *d, struct node *n)
{
	int t = resolve(d, n->a);
	char code = t >= 0 && N(d, t)->kind == K_BUILTIN ? (char)N(d, t)->flags : 0;
	const char *suffix = NULL;
	switch (code) {
	case 'i': suffix = ""; break;
	case 'j': suffix = "u"; break;
	case 'l': suffix = "l"; break;
	case 'm': suffix = "ul"; break;
	case 'x': suffix = "ll"; break;
	case 'y': suffix = "ull"; break;
	default: break;
	}
	if (suffix) {
		if (n->flags)
			emit_c(d, '-');
		emit(d, n->s, n->len);
		emit(d, suffix, strlen(suffix));
		return;
	}
	if (code == 'b' && !n->flags && n->len == 1 && (n->s[0] == '0' || n->s[0] == '1')) {
		if (n->s[0] == '1')
			EMIT_LIT(d, "true");
		else
			EMIT_LIT(d, "false");
		return;
	}
	int fl = code == 'f' || code == 'd' || code == 'e' || code == 'g';
	emit_c(d, '(');
	pr(d, n->a);
	emit_c(d, ')');
	if (n->flags)
		emit_c(d, '-');
	if (fl)
		emit_c(d, '[');
	emit(d, n->s, n->len);
	if (fl)
		emit_c(d, ']');
}

/* A template parameter prints its argument in the scope around its template. */
static void pr_targ(struct dm *d, const struct node *n, int right)
{
	int arg = targ(d, n, 0, 1);
	if (arg < 0) {
		fail(d);
		return;
	}
	int top = d->tstack[--d->ntstack];
	if (right)
		pr_right(d, arg);
	else
		pr_left(d, arg);
	d->tstack[d->ntstack++] = top;
}

/* An operand: in parentheses unless it is a plain (qualified) name. */
static void pr_subexpr(struct dm *d, int id)
{
	int k = id < 0 ? -1 : N(d, id)->kind;
	int simple = k == K_NAME || k == K_NESTED || k == K_FPARAM;
	if (!simple)
		emit_c(d, '(');
	pr(d, id);
	if (!simple)
		emit_c(d, ')');
}

static void pr_left(struct dm *d, int id)
{
	if (id < 0 || d->bad)
		return;
	if (++d->steps > DM_STEPS || ++d->pdepth > DM_PDEPTH) {
		fail(d);
		return;
	}
	struct node *n = N(d, id);
	switch (n->kind) {
	case K_NAME: case K_STR: case K_STD: case K_BUILTIN:
		emit(d, n->s, n->len);
		break;
	case K_NESTED: case K_LOCAL:
		pr(d, n->a);
		EMIT_LIT(d, "::");
		pr(d, n->b);
		break;
	case K_TEMPLATE: {
		pr(d, n->a);
		if (last_char(d) == '<')
			emit_c(d, ' ');
		emit_c(d, '<');
		pr_list(d, n->b);
		if (last_char(d) == '>')
			emit_c(d, ' ');
		emit_c(d, '>');
		break;
	}
	case K_ABI:
		pr(d, n->a);
		EMIT_LIT(d, "[abi:");
		pr(d, n->b);
		emit_c(d, ']');
		break;
	case K_CTOR:
		if (n->flags)
			emit_c(d, '~');
		pr(d, n->a);
		break;
	case K_CONV:
		EMIT_LIT(d, "operator ");
		pr(d, n->a);
		break;
	case K_OPER:
		EMIT_LIT(d, "operator");
		if (is_lower(n->s[0]))
			emit_c(d, ' ');
		emit(d, n->s, n->len);
		break;
	case K_LITOP:
		EMIT_LIT(d, "operator\"\" ");
		pr(d, n->a);
		break;
	case K_DEFARG:
		EMIT_LIT(d, "{default arg#");
		emit_num(d, n->c + 1);
		EMIT_LIT(d, "}::");
		pr(d, n->a);
		break;
	case K_LAMBDA:
		EMIT_LIT(d, "{lambda(");
		pr_list(d, n->a);
		EMIT_LIT(d, ")#");
		emit_num(d, n->b);
		emit_c(d, '}');
		break;
	case K_UNNAMED:
		EMIT_LIT(d, "{unnamed type#");
		emit_num(d, n->b);
		emit_c(d, '}');
		break;
	case K_AUTO:
		EMIT_LIT(d, "auto:");
		emit_num(d, n->b);
		break;
	case K_FLOATN:
		EMIT_LIT(d, "_Float");
		emit_num(d, n->b);
		if (n->flags)
			emit_c(d, 'x');
		break;
	case K_SPECIAL:
		emit(d, n->s, n->len);
		pr(d, n->a);
		if (n->b >= 0) {
			EMIT_LIT(d, "-in-");
			pr(d, n->b);
		}
		break;
	case K_CLONE:
		pr(d, n->a);
		EMIT_LIT(d, " [clone ");
		emit(d, n->s, n->len);
		emit_c(d, ']');
		break;
	case K_ENCODING: {
		if (n->b < 0) {
			pr(d, n->a);
			break;
		}
		struct node *f = N(d, n->b);
		int ret = n->c == 1 ? -1 : f->a;
		int has_ret_;
		int targs = name_targs(d, n->a, &has_ret_);
		if (targs >= 0) {
			if (d->ntstack >= (int)MA_ARRAY_LEN(d->tstack)) {
				fail(d);
				break;
			}
			d->tstack[d->ntstack++] = targs;
		}
		if (ret >= 0) {
			pr_left(d, ret);
			if (!has_rhs(d, ret))
				emit_c(d, ' ');
		}
		pr(d, n->a);
		emit_c(d, '(');
		pr_list(d, f->b);
		emit_c(d, ')');
		if (ret >= 0)
			pr_right(d, ret);
		pr_quals(d, f->flags);
		if (f->c == 1)
			EMIT_LIT(d, " &");
		else if (f->c == 2)
			EMIT_LIT(d, " &&");
		if (targs >= 0)
			d->ntstack--;
		break;
	}
	case K_LITERAL:
		pr_literal(d, n);
		break;
	case K_QUAL:
		pr_left(d, n->a);
		pr_quals(d, n->flags & ~inner_quals(d, n->a));
		break;
	case K_PTR: case K_LREF: case K_RREF: {
		int child = n->a;
		int k = n->kind == K_PTR ? K_PTR : ref_collapse(d, n->kind, &child);
		int ck = kind_of(d, child);
		pr_left(d, child);
		if (ck == K_ARRAY)
			EMIT_LIT(d, " (");
		else if (ck == K_FUNC)
			emit_c(d, '(');
		if (k == K_PTR)
			emit_c(d, '*');
		else if (k == K_LREF)
			emit_c(d, '&');
		else
			EMIT_LIT(d, "&&");
		break;
	}
	case K_COMPLEX:
		pr_left(d, n->a);
		EMIT_LIT(d, " _Complex");
		break;
	case K_IMAG:
		pr_left(d, n->a);
		EMIT_LIT(d, " _Imaginary");
		break;
	case K_VQUAL:
		pr_left(d, n->a);
		emit_c(d, ' ');
		pr(d, n->b);
		break;
	case K_FUNC:
		if (n->a >= 0) {
			pr_left(d, n->a);
			emit_c(d, ' ');
		}
		break;
	case K_ARRAY:
		pr_left(d, n->a);
		break;
	case K_PTRMEM: {
		int mk_ = kind_of(d, n->b);
		pr_left(d, n->b);
		if (mk_ == K_FUNC || mk_ == K_ARRAY)
			emit_c(d, '(');
		else
			emit_c(d, ' ');
		pr(d, n->a);
		EMIT_LIT(d, "::*");
		break;
	}
	case K_TPARAM:
		pr_targ(d, n, 0);
		break;
	case K_PACK:
		pr_list(d, n->a);
		break;
	case K_EXPANSION: {
		int pack = find_pack(d, n->a, 0);
		if (pack < 0) {
			pr(d, n->a);
			EMIT_LIT(d, "...");
			break;
		}
		int count = N(d, N(d, pack)->a)->b;
		int keep = d->pack_index;
		for (int i = 0; i < count && !d->bad; i++) {
			if (i > 0)
				EMIT_LIT(d, ", ");
			d->pack_index = i;
			pr(d, n->a);
		}
		d->pack_index = keep;
		break;
	}
	case K_LIST:
		pr_list(d, id);
		break;
	case K_FPARAM:
		EMIT_LIT(d, "{parm#");
		emit_num(d, n->b);
		emit_c(d, '}');
		break;
	case K_UNARY: {
		int operand = n->a;
		/* c++filt: &ns::f, not &(ns::f(int)), for a qualified non-template function */
		if (n->s[0] == '&' && operand >= 0 && N(d, operand)->kind == K_ENCODING &&
		    N(d, operand)->b >= 0 && N(d, N(d, operand)->a)->kind == K_NESTED)
			operand = N(d, operand)->a;
		emit(d, n->s, n->len);
		pr_subexpr(d, operand);
		break;
	}
	case K_BINARY: {
		int gt = n->len == 1 && n->s[0] == '>';
		if (gt)
			emit_c(d, '(');
		pr_subexpr(d, n->a);
		emit(d, n->s, n->len);
		pr_subexpr(d, n->b);
		if (gt)
			emit_c(d, ')');
		break;
	}
	default:
		fail(d);
		break;
	}
	d->pdepth--;
}

static void pr_right(struct dm *d, int id)
{
	if (id < 0 || d->bad)
		return;
	if (++d->steps > DM_STEPS || ++d->pdepth > DM_PDEPTH) {
		fail(d);
		return;
	}
	struct node *n = N(d, id);
	switch (n->kind) {
	case K_QUAL: case K_COMPLEX: case K_IMAG: case K_VQUAL:
		pr_right(d, n->a);
		break;
	case K_TPARAM:
		pr_targ(d, n, 1);
		break;
	case K_PTR: case K_LREF: case K_RREF: {
		int child = n->a;
		if (n->kind != K_PTR)
			ref_collapse(d, n->kind, &child);
		int ck = kind_of(d, child);
		if (ck == K_ARRAY || ck == K_FUNC)
			emit_c(d, ')');
		pr_right(d, child);
		break;
	}
	case K_PTRMEM: {
		int mk_ = kind_of(d, n->b);
		if (mk_ == K_FUNC || mk_ == K_ARRAY)
			emit_c(d, ')');
		pr_right(d, n->b);
		break;
	}
	case K_FUNC:
		emit_c(d, '(');
		pr_list(d, n->b);
		emit_c(d, ')');
		if (n->a >= 0)
			pr_right(d, n->a);
		pr_quals(d, n->flags);
		if (n->c == 1)
			EMIT_LIT(d, " &");
		else if (n->c == 2)
			EMIT_LIT(d, " &&");
		if (n->flags & CV_NOEXCEPT)
			EMIT_LIT(d, " noexcept");
		break;
	case K_ARRAY:
		if (last_char(d) != ']')
			emit_c(d, ' ');
		emit_c(d, '[');
		emit(d, n->s, n->len);
		emit_c(d, ']');
		pr_right(d, n->a);
		break;
	default:
		break;
	}
	d->pdepth--;
}

static void pr(struct dm *d, int id)
{
	pr_left(d, id);
	pr_right(d, id);
}

/* ---- entry points ----------------------------------------------------- */

/* .isra.0, .constprop.1, .cold, .part.0 ...: shown as " [clone .x]". */
static int clone_suffixes(struct dm *d, int enc)
{
	while (enc >= 0 && pk(d) == '.' &&
	       (is_lower(pk2(d)) || is_digit(pk2(d)) || pk2(d) == '_')) {
		const char *s = d->p;
		d->p += 2;
		while (is_lower(pk(d)) || is_digit(pk(d)) || pk(d) == '_')
			d->p++;
		while (pk(d) == '.' && is_digit(pk2(d))) {
			d->p += 2;
			while (is_digit(pk(d)))
				d->p++;
		}
		int id = mk_s(d, K_CLONE, s, (size_t)(d->p - s));
		if (id >= 0)
			N(d, id)->a = enc;
		enc = id;
	}
	return enc;
}

static int run(struct dm *d, const char *s, size_t len, char *out, size_t cap)
{
	memset(d, 0, offsetof(struct dm, nodes));
	d->p = s;
	d->end = s + len;
	d->last_name = -1;
	d->pack_index = -1;
	d->out = out;
	d->cap = cap;

	int root;
	if (len >= 2 && s[0] == '_' && s[1] == 'Z') {
		d->p += 2;
		root = clone_suffixes(d, encoding(d));
	} else if (len >= 11 && memcmp(s, "_GLOBAL_", 8) == 0 &&
		   (s[8] == '.' || s[8] == '_' || s[8] == '$') &&
		   (s[9] == 'D' || s[9] == 'I') && s[10] == '_') {
		d->p += 11;
		int inner;
		if (pk(d) == '_' && pk2(d) == 'Z') {
			d->p += 2;
			inner = encoding(d);
		} else {
			inner = mk_s(d, K_NAME, d->p, (size_t)(d->end - d->p));
			d->p = d->end;
		}
		root = special(d, s[9] == 'I' ? "global constructors keyed to "
					      : "global destructors keyed to ", inner);
	} else {
		return 0;
	}
	if (root < 0 || d->bad || d->p != d->end)
		return 0;
	pr(d, root);
	if (d->bad)
		return 0;
	out[d->len] = '\0';
	return 1;
}

/* One state for the common case; a caller that finds it busy (another
 * thread demangling) maps a private one for the call. */
static struct dm g_state;
static int g_busy;

bool ma_demangle_n(const char *s, size_t len, char *out, size_t cap)
{
	if (!out || cap == 0)
		return false;
	out[0] = '\0';
	if (!s || len < 2 || len > DM_MAX_INPUT || memchr(s, '\0', len))
		return false;
	struct dm *d = &g_state;
	int mapped = 0;
	if (__atomic_exchange_n(&g_busy, 1, __ATOMIC_ACQUIRE)) {
		d = ma_os_map(sizeof *d);
		if (!d)
			return false;
		mapped = 1;
	}
	int ok = run(d, s, len, out, cap);
	if (!ok)
		out[0] = '\0';
	if (mapped)
		ma_os_unmap(d, sizeof *d);
	else
		__atomic_store_n(&g_busy, 0, __ATOMIC_RELEASE);
	return ok;
}

bool ma_demangle(const char *mangled, char *out, size_t cap)
{
	if (!mangled)
		return false;
	size_t len = strnlen(mangled, DM_MAX_INPUT + 1);
	return ma_demangle_n(mangled, len, out, cap);
}
