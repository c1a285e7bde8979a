// SPDX-License-Identifier: Apache-2.0
//
// view.mjs: loads a DHAT file written by modalloc into Valgrind's own viewer
// (dh_view.html) in headless Chromium and checks what it renders.
//
//   node view.mjs --dhat FILE --json REPORT --screenshot OUT.png [--text OUT.txt]
//                 [--viewer /usr/libexec/valgrind/dh_view.html]
//                 [--expect-cmd-file FILE]   exact expected "Command:" text (UTF-8)
//                 [--expect-frame TEXT]...   a frame string that must be rendered
//   node view.mjs --jobs JOBS.json           one browser for several files: a list of
//                 {"name", "dhat", "json", "screenshot", "text"?, "cmdFile"?, "frames"?}
//                 prints "[name] ok" or "[name] FAIL: ..." lines per job
//
// Fails (exit 1) on: the viewer's error text (span.error), any uncaught page
// error or console error, "NaN" / "undefined" / "Infinity" / "∞" anywhere in
// the rendered text, or a root node whose totals ("Total:", "At t-gmax:",
// "At t-end:") differ from the JSON report's totals; also when Command/PID/
// t-gmax/t-end differ from the file.  The viewer parses the file without
// complaint in many broken cases (docs dhat-format.md section 7), so only
// the rendered text proves the output right.
//
// Exit 77 (skip) when Chromium, the viewer or node_modules/playwright-core
// is missing: `npm ci` in tests/dhat and `apt-get install chromium`.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const SKIP = 77;
const CHROMIUM = process.env.DHAT_CHROMIUM || '/usr/bin/chromium';

function usage(msg) {
	console.error(`view.mjs: ${msg}`);
	process.exit(2);
}

function parseArgs(argv) {
	const o = { viewer: '/usr/libexec/valgrind/dh_view.html', frames: [] };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const v = argv[i + 1];
		if (v === undefined)
			usage(`${a} needs a value`);
		i++;
		switch (a) {
		case '--dhat': o.dhat = v; break;
		case '--json': o.json = v; break;
		case '--screenshot': o.screenshot = v; break;
		case '--text': o.text = v; break;
		case '--viewer': o.viewer = v; break;
		case '--expect-cmd-file': o.cmdFile = v; break;
		case '--expect-frame': o.frames.push(v); break;
		case '--jobs': o.jobs = v; break;
		default: usage(`unknown argument ${a}`);
		}
	}
	if (o.jobs)
		return { viewer: o.viewer, jobs: JSON.parse(readFileSync(o.jobs, 'utf8')), batch: true };
	if (!o.dhat || !o.json || !o.screenshot)
		usage('--dhat, --json and --screenshot are required');
	return { viewer: o.viewer, jobs: [o], batch: false };
}

// "8,004" (en-US, the locale we force) -> 8004.  Anything else is a failure.
function num(s) {
	const t = s.replace(/,/g, '');
	if (!/^\d+(\.\d+)?$/.test(t))
		throw new Error(`not a number in the rendered text: ${JSON.stringify(s)}`);
	return Number(t);
}

// Loads one file in a fresh page; returns the list of problems.
async function checkOne(ctx, viewer, o) {
	const report = JSON.parse(readFileSync(o.json, 'utf8'));
	const dhat = JSON.parse(readFileSync(o.dhat, 'utf8'));
	const tot = report.totals;
	const problems = [];
	const frames = o.frames || [];
	const page = await ctx.newPage();
	try {
		page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
		page.on('console', (m) => {
			if (m.type() === 'error')
				problems.push(`console error: ${m.text()}`);
		});
		await page.goto(pathToFileURL(viewer).href);
		await page.setInputFiles('input[type=file]', o.dhat);
		// displayTree() writes the timings line last; a failed load writes span.error.
		await page.waitForFunction(() => document.querySelector('span.error') ||
			/Processing time/.test(document.body.textContent), null, { timeout: 60000 });
		await page.screenshot({ path: o.screenshot, fullPage: true });
		const errors = await page.$$eval('span.error', (els) => els.map((e) => e.textContent));
		for (const e of errors)
			problems.push(`viewer error: ${e}`);
		// The tree and its headers; the page's legend legitimately shows '∞'.
		const text = await page.evaluate(() => Array.from(document.querySelectorAll('pre, span.error'),
			(e) => e.textContent).join('\n'));
		const invocation = await page.evaluate(() => {
			const s = document.querySelector('span.invocation');
			return s ? s.textContent : null;
		});
		const times = await page.evaluate(() => {
			const s = document.querySelector('span.times');
			return s ? s.textContent : null;
		});
		if (o.text)
			writeFileSync(o.text, text);

		for (const bad of ['NaN', 'undefined', 'Infinity', '∞']) {
			const at = text.indexOf(bad);
			if (at >= 0)
				problems.push(`rendered text contains ${bad}: ...${text.slice(Math.max(0, at - 80), at + 40)}...`);
		}
		if (errors.length === 0) {
			// The invocation block is printed verbatim from the file.
			const wantInv = `Invocation {\n  Mode:    heap\n  Command: ${dhat.cmd}\n  PID:     ${dhat.pid}\n}\n\n`;
			if (invocation !== wantInv)
				problems.push(`invocation block ${JSON.stringify(invocation)}, expected ${JSON.stringify(wantInv)}`);
			if (dhat.cmd !== report.cmd)
				problems.push(`DHAT cmd ${JSON.stringify(dhat.cmd)} != JSON cmd ${JSON.stringify(report.cmd)}`);
			if (dhat.pid !== report.pid)
				problems.push(`DHAT pid ${dhat.pid} != JSON pid ${report.pid}`);
			if (o.cmdFile) {
				const want = readFileSync(o.cmdFile, 'utf8');
				if (dhat.cmd !== want)
					problems.push(`cmd ${JSON.stringify(dhat.cmd)}, expected ${JSON.stringify(want)}`);
			}
			const tm = /t-gmax: ([\d,.]+) \S.* \(([\d,.]+)% of program duration\)\n\s+t-end:\s+([\d,.]+) /.exec(times || '');
			if (!tm)
				problems.push(`no t-gmax/t-end in ${JSON.stringify(times)}`);
			else if (num(tm[1]) !== dhat.tg || num(tm[3]) !== dhat.te)
				problems.push(`times block shows t-gmax ${tm[1]}, t-end ${tm[3]}; the file has tg ${dhat.tg}, te ${dhat.te}`);

			// The root node is the first one of the tree: the lines from "PP 1/1" to
			// its "Allocated at", each behind tree-drawing characters.
			const rs = text.indexOf('PP 1/1 ');
			const rootText = rs < 0 ? '' : text.slice(rs, text.indexOf('Allocated at {', rs));
			const line = (label, extra) => new RegExp(`\n[^\n\\S]*${label}: +([\\d,]+) bytes \\([^)]*\\) in ([\\d,]+) blocks \\(${extra}`).exec(rootText);
			const lt = line('Total', '(?:100|0)%, '), lg = line('At t-gmax', '\\d'), le = line('At t-end', '\\d');
			const root = lt && lg && le ? [null, lt[1], lt[2], lg[1], lg[2], le[1], le[2]] : null;
			if (!root) {
				problems.push('root node not found in the rendered text');
			} else {
				const got = {
					bytes: num(root[1]), blocks: num(root[2]),
					peak_bytes: num(root[3]), peak_blocks: num(root[4]),
					live_bytes: num(root[5]), live_blocks: num(root[6]),
				};
				for (const [k, v] of Object.entries(got)) {
					if (v !== tot[k])
						problems.push(`root ${k}: viewer shows ${v}, JSON report has ${tot[k]}`);
				}
				console.log(`${o.name ? `[${o.name}] ` : ''}root: Total ${got.bytes} bytes in ${got.blocks} blocks; ` +
					`At t-gmax ${got.peak_bytes} in ${got.peak_blocks}; At t-end ${got.live_bytes} in ${got.live_blocks}`);
			}
			for (const f of frames) {
				if (!text.includes(f))
					problems.push(`frame ${JSON.stringify(f)} not rendered`);
			}
		}
	} finally {
		await page.close();
	}
	return problems;
}

async function main() {
	const o = parseArgs(process.argv.slice(2));
	if (!existsSync(CHROMIUM)) {
		console.log(`SKIP: ${CHROMIUM} not found (apt-get install chromium)`);
		return SKIP;
	}
	if (!existsSync(o.viewer)) {
		console.log(`SKIP: ${o.viewer} not found (apt-get install valgrind)`);
		return SKIP;
	}
	let chromium;
	try {
		({ chromium } = await import('playwright-core'));
	} catch (e) {
		console.log(`SKIP: playwright-core is not installed (cd tests/dhat && npm ci): ${e.message}`);
		return SKIP;
	}
	const profile = mkdtempSync(path.join(tmpdir(), 'modalloc-dhat-chromium-'));
	let ctx;
	let failed = 0;
	try {
		ctx = await chromium.launchPersistentContext(profile, {
			executablePath: CHROMIUM,
			headless: true,
			locale: 'en-US',
			viewport: { width: 1400, height: 900 },
			args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			       '--disable-background-networking', '--disable-component-update', '--disable-sync'],
		});
		for (const job of o.jobs) {
			let problems;
			try {
				problems = await checkOne(ctx, o.viewer, job);
			} catch (e) {
				problems = [`${e.stack || e}`];
			}
			const tag = o.batch ? `[${job.name}] ` : '';
			console.log(`${tag}screenshot: ${job.screenshot}`);
			for (const p of problems)
				console.log(`${tag}FAIL: ${p}`);
			if (o.batch && !problems.length)
				console.log(`${tag}ok`);
			failed += problems.length ? 1 : 0;
		}
	} finally {
		if (ctx)
			await ctx.close();
		rmSync(profile, { recursive: true, force: true });
	}
	return failed ? 1 : 0;
}

main().then((rc) => process.exit(rc), (e) => {
	console.log(`FAIL: ${e.stack || e}`);
	process.exit(1);
});
