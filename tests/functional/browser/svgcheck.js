#!/usr/bin/env node
/*
 * svgcheck.js - open one of pyrometer's SVG flame graphs in headless
 * Chromium, use it as a person would (hover, click to zoom, reset, search
 * with Ctrl-F and with the Search control) and print what happened as one
 * JSON object on stdout. It judges nothing: tests/functional/test_svg.py
 * reads the JSON and asserts.
 *
 *   node svgcheck.js FILE.svg [--click PREFIX] [--search REGEX]
 *                    [--expect TEXT]... [--screenshot OUT.png]
 *
 * --click: the widest frame whose text starts with PREFIX is hovered,
 * clicked and reset; --expect: a frame text that must be shown as text
 * (hostile names); each is looked for in the frames' tooltips, in their
 * labels and in the details line while the mouse is over the frame.
 * CHROMIUM (environment) overrides /usr/bin/chromium. Exit status 0 when
 * the JSON was printed, 2 when the browser could not be driven (the JSON
 * then holds "fatal").
 */
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

function parseArgs(argv) {
	const a = { file: null, click: null, search: null, expect: [], screenshot: null };
	for (let i = 0; i < argv.length; i++) {
		const k = argv[i];
		if (k === "--click") a.click = argv[++i];
		else if (k === "--search") a.search = argv[++i];
		else if (k === "--expect") a.expect.push(argv[++i]);
		else if (k === "--screenshot") a.screenshot = argv[++i];
		else if (!a.file) a.file = k;
		else throw new Error("unexpected argument " + k);
	}
	if (!a.file) throw new Error("usage: svgcheck.js FILE.svg [--click PREFIX] [--search REGEX] " +
				     "[--expect TEXT]... [--screenshot OUT.png]");
	return a;
}

/* Distinct colours of a PNG, decoded by the browser itself: how many cover
 * at least 100 pixels, and how many of those are not greys (a blank page,
 * or one with text only, has none). */
async function countColours(browser, png) {
	const page = await browser.newPage();
	try {
		await page.setContent("<!doctype html><title>colours</title>");
		return await page.evaluate(async (b64) => {
			const img = new Image();
			img.src = "data:image/png;base64," + b64;
			await img.decode();
			const c = document.createElement("canvas");
			c.width = img.width;
			c.height = img.height;
			const ctx = c.getContext("2d");
			ctx.drawImage(img, 0, 0);
			const d = ctx.getImageData(0, 0, c.width, c.height).data;
			const n = new Map();
			for (let i = 0; i < d.length; i += 4) {
				const key = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
				n.set(key, (n.get(key) || 0) + 1);
			}
			let common = 0, coloured = 0;
			for (const [key, count] of n) {
				if (count < 100) continue;
				common++;
				const r = key >> 16, g = (key >> 8) & 255, b = key & 255;
				if (Math.max(r, g, b) - Math.min(r, g, b) > 30) coloured++;
			}
			return { distinct: n.size, common: common, coloured: coloured,
				 width: c.width, height: c.height };
		}, png.toString("base64"));
	} finally {
		await page.close();
	}
}

/* The state the tests look at, read from the DOM. */
function snapshot(page, index) {
	return page.evaluate((index) => {
		const gs = Array.from(document.querySelectorAll("#frames > g"));
		const visible = (el) => !!el && !el.classList.contains("hide") &&
			getComputedStyle(el).display !== "none";
		const width = (g) => Number(g.querySelector("rect").getAttribute("width"));
		const out = {
			frames: gs.length,
			hidden: gs.filter((g) => !visible(g)).length,
			dimmed: gs.filter((g) => g.classList.contains("dim")).length,
			rootWidth: gs.length ? width(gs[0]) : null,
			unzoomVisible: visible(document.getElementById("unzoom")),
			matchedVisible: visible(document.getElementById("matched")),
			matchedText: document.getElementById("matched").textContent,
			searchText: document.getElementById("search").textContent,
			details: document.getElementById("details").textContent,
			matches: gs.filter((g) => g.classList.contains("match")).length,
			matchFills: Array.from(new Set(gs.filter((g) => g.classList.contains("match"))
				.map((g) => g.querySelector("rect").getAttribute("fill")))),
			scripts: document.getElementsByTagName("script").length
		};
		if (index !== null && gs[index]) {
			const g = gs[index];
			out.frame = {
				width: width(g),
				x: Number(g.querySelector("rect").getAttribute("x")),
				visible: visible(g),
				dim: g.classList.contains("dim"),
				text: g.querySelector("text").textContent
			};
		}
		return out;
	}, index === undefined ? null : index);
}

/* The index of the widest frame whose text starts with prefix, or -1. */
function findFrame(page, prefix) {
	return page.evaluate((prefix) => {
		let best = -1, bestW = -1;
		document.querySelectorAll("#frames > g").forEach((g, i) => {
			const t = g.querySelector("title");
			const label = t ? t.textContent.split("\n")[0] : "";
			const w = Number(g.getAttribute("data-w"));
			if (label.startsWith(prefix) && w > bestW) {
				best = i;
				bestW = w;
			}
		});
		return best;
	}, prefix);
}

async function centre(page, selector) {
	const box = await page.locator(selector).first().boundingBox();
	if (!box) throw new Error("no box for " + selector);
	return { x: box.x + Math.min(box.width / 2, 40), y: box.y + box.height / 2 };
}

async function hoverFrame(page, index) {
	const c = await centre(page, `#frames > g:nth-child(${index + 1}) rect`);
	await page.mouse.move(c.x, c.y);
	return (await snapshot(page)).details;
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	const out = { dialogs: [], consoleErrors: [], pageErrors: [] };
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
		headless: true,
		args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
	});
	try {
		const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
		page.setDefaultTimeout(15000);
		let answer = null;   /* what the next prompt() is answered */
		page.on("dialog", async (d) => {
			out.dialogs.push({ type: d.type(), message: d.message() });
			if (d.type() === "prompt" && answer !== null) {
				const a = answer;
				answer = null;
				await d.accept(a);
			} else {
				await d.dismiss();
			}
		});
		page.on("console", (m) => {
			if (m.type() === "error") out.consoleErrors.push(m.text());
		});
		page.on("pageerror", (e) => out.pageErrors.push(String(e)));
		await page.goto("file://" + path.resolve(args.file), { waitUntil: "load" });

		out.initial = await snapshot(page);
		/* fullPage screenshots never finish on an SVG document: size the
		 * viewport to the drawing instead. */
		const size = await page.evaluate(() => ({
			w: Number(document.documentElement.getAttribute("width")) || 1200,
			h: Number(document.documentElement.getAttribute("height")) || 800
		}));
		await page.setViewportSize({ width: Math.min(size.w, 4000), height: Math.min(size.h, 4000) });
		const png = await page.screenshot();
		if (args.screenshot) fs.writeFileSync(args.screenshot, png);
		out.colours = await countColours(browser, png);

		if (args.click !== null) {
			const i = await findFrame(page, args.click);
			out.clickIndex = i;
			if (i >= 0) {
				out.beforeClick = await snapshot(page, i);
				out.hoverDetails = await hoverFrame(page, i);
				const c = await centre(page, `#frames > g:nth-child(${i + 1}) rect`);
				await page.mouse.click(c.x, c.y);
				out.zoomed = await snapshot(page, i);
				await page.mouse.click(...Object.values(await centre(page, "#unzoom")));
				out.reset = await snapshot(page, i);
			}
		}

		if (args.search !== null) {
			/* Ctrl-F asks with prompt(); the handler above answers. */
			answer = args.search;
			await page.mouse.move(5, 5);
			await page.keyboard.press("Control+f");
			await page.waitForFunction(() =>
				!document.getElementById("matched").classList.contains("hide"));
			out.searchKey = await snapshot(page);
			/* The control then reads "Reset Search": one click clears,
			 * the next asks again. */
			await page.mouse.click(...Object.values(await centre(page, "#search")));
			out.searchCleared = await snapshot(page);
			answer = args.search;
			await page.mouse.click(...Object.values(await centre(page, "#search")));
			await page.waitForFunction(() =>
				!document.getElementById("matched").classList.contains("hide"));
			out.searchButton = await snapshot(page);
		}

		out.expect = {};
		for (const text of args.expect) {
			const r = await page.evaluate((text) => {
				const gs = Array.from(document.querySelectorAll("#frames > g"));
				let index = -1, bestW = -1;
				gs.forEach((g, i) => {
					const label = g.querySelector("title").textContent.split("\n")[0];
					const w = Number(g.getAttribute("data-w"));
					if (label.includes(text) && w > bestW) {
						index = i;
						bestW = w;
					}
				});
				return {
					index: index,
					inTitle: index >= 0,
					inLabel: gs.some((g) => {
						const t = g.querySelector("text").textContent;
						return t.length > 3 && text.startsWith(t.replace(/\.\.$/, "")) ||
							t.includes(text);
					})
				};
			}, text);
			if (r.index >= 0) r.details = await hoverFrame(page, r.index);
			out.expect[text] = r;
		}
		out.final = await snapshot(page);
	} finally {
		await browser.close();
	}
	process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
	process.stdout.write(JSON.stringify({ fatal: String(e && e.stack || e) }) + "\n");
	process.exit(2);
});
