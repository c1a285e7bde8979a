// SPDX-License-Identifier: Apache-2.0
//
// speedscope_view.mjs: loads a pprof file into speedscope (the npm package's
// own app, dist/release/index.html, as its `speedscope FILE` command does)
// in headless Chromium, opens the Sandwich view and prints its table as JSON:
// [[total, self, symbol, file], ...], the text speedscope renders.
//
//   node speedscope_view.mjs NODE_MODULES_PARENT PROFILE
//
// NODE_MODULES_PARENT is tests/dhat, whose package.json brings playwright-core
// and speedscope.  Exit 1 on a page error or an alert (speedscope's way of
// saying it could not import the file), 77 (skip) when Chromium, playwright-core
// or speedscope is missing.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const SKIP = 77;
const CHROMIUM = process.env.DHAT_CHROMIUM || '/usr/bin/chromium';
const [, , modulesParent, profile] = process.argv;
if (!modulesParent || !profile) {
	console.error('usage: node speedscope_view.mjs NODE_MODULES_PARENT PROFILE');
	process.exit(2);
}
const app = path.join(modulesParent, 'node_modules', 'speedscope', 'dist', 'release', 'index.html');
for (const [what, p] of [['chromium', CHROMIUM], ['speedscope (npm ci in tests/dhat)', app]]) {
	if (!existsSync(p)) {
		console.log(`SKIP: ${what} is missing: ${p}`);
		process.exit(SKIP);
	}
}
let chromium;
try {
	({ chromium } = createRequire(path.resolve(modulesParent, 'package.json'))('playwright-core'));
} catch (e) {
	console.log('SKIP: playwright-core is missing (npm ci in tests/dhat)');
	process.exit(SKIP);
}

// speedscope's command writes a script that calls this and opens the app with
// #localProfilePath=SCRIPT: the same here.
const dir = mkdtempSync(path.join(tmpdir(), 'modalloc-speedscope-'));
const loader = path.join(dir, 'load.js');
writeFileSync(loader, `speedscope.loadFileFromBase64(${JSON.stringify(path.basename(profile))}, ` +
	`${JSON.stringify(readFileSync(profile).toString('base64'))})`);
const problems = [];
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
try {
	const page = await browser.newPage();
	page.on('pageerror', e => problems.push(`page error: ${e}`));
	page.on('dialog', d => {
		problems.push(`alert: ${d.message()}`);
		d.dismiss();
	});
	await page.goto(`${pathToFileURL(app)}#localProfilePath=${loader}`);
	// The toolbar names the file once it is imported.
	const name = path.basename(profile);
	const ok = await page.waitForFunction(n => document.body.innerText.includes(n) &&
	                                           document.body.innerText.includes('Sandwich'),
	                                      name, { timeout: 20000 })
		.then(() => page.getByText('Sandwich').first().click({ timeout: 5000 }))
		.then(() => page.getByText('Symbol Name').first().waitFor({ timeout: 20000 }))
		.then(() => true, e => {
			problems.push(`speedscope did not show the profile: ${e.message.split('\n')[0]}`);
			return false;
		});
	if (!ok) {
		const text = await page.innerText('body').catch(() => '');
		problems.push(`page text: ${text.slice(0, 300).replace(/\s+/g, ' ')}`);
	}
	const rows = await page.$$eval('tr', trs => trs
		.map(tr => Array.from(tr.querySelectorAll('td')))
		.filter(tds => tds.length === 3)
		.map(tds => [tds[0].innerText.trim(), tds[1].innerText.trim(), tds[2].innerText.trim(),
		             tds[2].getAttribute('title') || '']));
	console.log(JSON.stringify(rows));
} finally {
	await browser.close();
	rmSync(dir, { recursive: true, force: true });
}
if (problems.length) {
	for (const p of problems)
		console.error(p);
	process.exit(1);
}
