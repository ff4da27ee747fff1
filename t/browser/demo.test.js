// The demo page (conf/html/) as a player sees it: tools/run-nginx, the
// script behind "make run", serves it with conf/nginx.conf and conf/hunt.lua
// on a free loopback port in a prefix of its own, and Debian's headless
// Chromium plays it on a phone-sized screen through playwright-core.
//
// coinhunt_seed makes every draw of coinhunt.random() known in advance, and
// one worker makes the draws one sequence (each worker has its own, seeded
// with seed + worker number), so the coins below are what the seed yields.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const TOP = path.resolve(__dirname, '../..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const NGINX = process.env.NGINX || '/usr/sbin/nginx';
const MODULE = process.env.COINHUNT_MODULE ||
               path.join(TOP, 'build/ngx_http_coinhunt_module.so');
const OUT = path.join(TOP, 'build/browser');
const PREFIX = path.join(OUT, 'nginx');
const SCREENSHOT = path.join(OUT, 'demo.png');
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'];
const WAIT_MS = 20000;

const SEED = 20261125;
const HUNT = 'demo';
const PLAYER = 'mira';
// rivals that play through the API before the page does: name, taps
const RIVALS = [['ada', 25], ['grace', 15], ['linus', 8]];
// what the seed gives them, and then the page's first three finds (the
// third gold is doubled: a streak of 3 in conf/hunt.lua)
const RIVAL_SCORES = { ada: 9, grace: 2, linus: 2 };
const FINDS = [{ tap: 7, value: 1, kind: 'copper' },
               { tap: 8, value: 25, kind: 'gold' },
               { tap: 9, value: 50, kind: 'gold' }];

let chromium;
try {
    ({ chromium } = require('playwright-core'));
} catch (e) {
    throw new Error('playwright-core is not installed in t/browser/: ' +
                    'run "make deps" (it runs npm ci there)');
}
if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`chromium is missing (${CHROMIUM}): run "make deps", ` +
                    'which installs Debian\'s chromium package');
}

const ctx = { failed: false };

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

// an nginx left running in our prefix by an interrupted run
function stopStale() {
    const pidFile = path.join(PREFIX, 'logs/nginx.pid');
    let pid;

    try {
        pid = Number(fs.readFileSync(pidFile, 'utf8'));
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes(PREFIX)) {
            process.kill(pid, 'SIGTERM');
        }
    } catch (e) {
        // no pid file or no such process: nothing to stop
    }
}

async function startNginx() {
    const port = await freePort();
    const out = [];

    stopStale();
    fs.rmSync(PREFIX, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    const child = spawn(path.join(TOP, 'tools/run-nginx'),
                        [MODULE, String(port), NGINX], {
        env: { ...process.env, COINHUNT_PREFIX: PREFIX,
               COINHUNT_SEED: String(SEED), COINHUNT_WORKERS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    process.on('exit', () => child.kill('SIGTERM'));
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => out.push(d));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + WAIT_MS;

    for (;;) {
        const code = await Promise.race([exited,
            new Promise((r) => setTimeout(r, 100, 'running'))]);
        if (code !== 'running') {
            throw new Error(`tools/run-nginx exited (${code}):\n` +
                            Buffer.concat(out).toString());
        }
        try {
            if ((await fetch(base + '/')).status === 200) {
                break;
            }
        } catch (e) {
            // not listening yet
        }
        if (Date.now() > deadline) {
            child.kill('SIGTERM');
            throw new Error('nginx did not answer on ' + base + ':\n' +
                            Buffer.concat(out).toString());
        }
    }
    return { child, exited, base };
}

async function api(method, p, token) {
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    const res = await fetch(ctx.base + p, { method, headers });
    return { status: res.status, body: await res.json() };
}

function isCall(r, apiPath) {
    return new URL(r.url()).pathname === apiPath;
}

// tap a control of the page and take the API answer that it causes
async function tapFor(page, selector, apiPath) {
    const [res] = await Promise.all([
        page.waitForResponse((r) => isCall(r, apiPath)),
        page.tap(selector),
    ]);
    return res;
}

// the rows of the page's leaderboard: [rank, player, score, highlighted]
function boardRows(page) {
    return page.$$eval('#board tr:not(.gap)', (trs) => trs.map((tr) => [
        ...[...tr.cells].map((td) => td.textContent),
        tr.classList.contains('me')]));
}

// wait until the page's highlighted row shows this score
async function waitForMyRow(page, score) {
    try {
        await page.waitForFunction((s) => {
            const me = document.querySelector('#board tr.me');
            return me && me.cells[2].textContent === String(s);
        }, score, { timeout: WAIT_MS });
    } catch (e) {
        throw new Error(`no highlighted leaderboard row with score ${score} ` +
                        `in ${WAIT_MS} ms; the board shows ` +
                        JSON.stringify(await boardRows(page)));
    }
}

// one step of the story; once one fails, the next ones are skipped
function step(name, fn) {
    test(name, { timeout: 4 * WAIT_MS }, async (t) => {
        if (ctx.failed) {
            t.skip('an earlier step failed');
            return;
        }
        try {
            await fn(t);
        } catch (e) {
            ctx.failed = true;
            throw e;
        }
    });
}

test.before(async () => {
    Object.assign(ctx, await startNginx());
    ctx.browser = await chromium.launch({ executablePath: CHROMIUM,
                                          headless: true,
                                          args: CHROMIUM_FLAGS });
    ctx.context = await ctx.browser.newContext({
        viewport: { width: 390, height: 844 }, deviceScaleFactor: 2,
        isMobile: true, hasTouch: true,
    });
    ctx.page = await ctx.context.newPage();
    ctx.page.setDefaultTimeout(WAIT_MS);
    ctx.pageErrors = [];
    ctx.page.on('pageerror', (e) => ctx.pageErrors.push(e));
    ctx.tapAuth = [];
    ctx.page.on('request', (r) => {
        if (isCall(r, '/hunt/tap')) {
            ctx.tapAuth.push(r.headers().authorization);
        }
    });
});

test.after(async () => {
    if (ctx.browser) {
        await ctx.browser.close();
    }
    if (ctx.child && ctx.child.exitCode === null) {
        ctx.child.kill('SIGQUIT');
        await ctx.exited;
    }
    if (ctx.failed) {
        const log = path.join(PREFIX, 'logs/error.log');
        if (fs.existsSync(log)) {
            process.stderr.write('nginx error.log (tail):\n' + fs
                .readFileSync(log, 'utf8').split('\n').slice(-20).join('\n'));
        }
    }
});

step('rivals play the seeded hunt through the API', async () => {
    for (const [name, taps] of RIVALS) {
        const j = await api('POST',
                            `/hunt/session?player=${name}&hunt=${HUNT}`);
        assert.equal(j.status, 201, `${name} joins`);
        let last;
        for (let i = 0; i < taps; i++) {
            last = await api('POST', '/hunt/tap', j.body.session);
            assert.equal(last.status, 200, `${name}'s tap ${i + 1}`);
        }
        assert.equal(last.body.score, RIVAL_SCORES[name],
                     `${name}'s score after ${taps} taps of seed ${SEED}`);
    }
});

step('the page at / joins the hunt', async () => {
    const { page } = ctx;

    await page.goto(ctx.base + '/');
    assert.equal(await page.title(), 'coinhunt');
    assert.ok(await page.isVisible('#join'), 'the join form shows');
    assert.ok(await page.isHidden('#game'), 'the game waits for a join');

    await page.fill('#player', PLAYER);
    await page.fill('#hunt', HUNT);
    const res = await tapFor(page, '#join-button', '/hunt/session');
    const body = await res.json();
    assert.equal(res.status(), 201);
    assert.equal(res.request().method(), 'POST');
    assert.match(body.session, /^[A-Za-z0-9_-]{22}$/, 'a token came back');
    assert.equal(body.player, PLAYER);
    ctx.token = body.session;

    await page.waitForSelector('#game', { state: 'visible' });
    assert.ok(await page.isHidden('#join'));
    assert.equal(await page.textContent('#who'), `${PLAYER} in ${HUNT}`);
    assert.equal(await page.textContent('#score'), '0');

    // the first refresh already ranks us, last with 0
    await waitForMyRow(page, 0);
    const rows = await boardRows(page);
    assert.deepEqual(rows.at(-1), [String(RIVALS.length + 1), PLAYER, '0',
                                   true]);
});

step('taps until the seeded coins pop', async () => {
    const { page } = ctx;
    const found = [];
    let last;

    // every coin the page pops, however short its animation
    await page.evaluate(() => {
        window.pops = [];
        new MutationObserver((records) => {
            for (const r of records) {
                for (const n of r.addedNodes) {
                    window.pops.push([n.className, n.textContent]);
                }
            }
        }).observe(document.getElementById('pops'), { childList: true });
    });

    for (let i = 1; found.length < FINDS.length && i <= 60; i++) {
        const res = await tapFor(page, '#tap', '/hunt/tap');
        assert.equal(res.status(), 200, `tap ${i}`);
        assert.match(res.url(), /\/hunt\/tap\?x=[01]\.\d{3}&y=[01]\.\d{3}$/,
                     'the tap says where the button was hit');
        last = await res.json();
        assert.equal(last.taps, i, 'the API counted the tap');
        await page.waitForFunction((n) =>
            document.getElementById('taps').textContent === String(n), i);
        assert.equal(await page.textContent('#score'),
                     String(last.score), 'the page shows the API\'s score');
        if (last.coin) {
            const kind = last.coin.kind.replace(/_/g, ' ');
            found.push({ tap: i, ...last.coin });
            assert.deepEqual(await page.evaluate(() => window.pops.at(-1)),
                             [`pop coin-${last.coin.kind}`,
                              `+${last.coin.value} ${kind}`], 'the coin pops');
            assert.equal(await page.textContent('#last-coin'),
                         `Found ${kind}: +${last.coin.value}`);
        }
        assert.equal(await page.evaluate(() => window.pops.length),
                     found.length, 'a pop for each coin, none without');
    }
    assert.deepEqual(found, FINDS, `the finds of seed ${SEED}`);
    assert.equal(await page.textContent('#coins'), String(found.length));
    assert.deepEqual(await page.$$eval('#finds li',
                                       (lis) => lis.map((l) => l.textContent)),
                     found.map((f) => '+' + f.value).reverse());
    assert.ok(ctx.tapAuth.length > 0);
    assert.ok(ctx.tapAuth.every((a) => a === 'Bearer ' + ctx.token),
              'every tap carried the token of the join');
    ctx.score = last.score;
});

step('score and leaderboard follow the API', async () => {
    const { page } = ctx;
    const lb = await api('GET', `/hunt/leaderboard?hunt=${HUNT}&top=10`,
                         ctx.token);

    assert.equal(lb.status, 200);
    assert.equal(lb.body.me.score, ctx.score, 'the API has the page\'s score');
    assert.equal(await page.textContent('#score'), String(ctx.score));

    // the board refreshes by itself: no reload, no tap
    await waitForMyRow(page, ctx.score);
    assert.deepEqual(await boardRows(page), lb.body.top.map((e) =>
        [String(e.rank), e.player, String(e.score), e.player === PLAYER]));
    assert.equal(await page.$$eval('#board tr.me', (t) => t.length), 1);
    assert.equal(await page.textContent('#rank'), '#' + lb.body.me.rank);
    assert.equal(await page.getAttribute('#board tr.me', 'aria-current'),
                 'true');

    // one frame, whenever the board caught up: the finger off the button,
    // the pop (if still there) half-way up, everything else at rest
    await page.tap('h1');
    await page.evaluate(() => document.getAnimations().forEach((a) => {
        if (a.animationName === 'pop') {
            a.pause();
            a.currentTime = 500;
        } else {
            a.finish();
        }
    }));
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(fs.statSync(SCREENSHOT).size > 10000, 'a screenshot was saved');
});

step('a session that ended elsewhere is rejoined by itself', async () => {
    const { page } = ctx;
    // the leaderboard's poll meets the 401 within a second
    const rejoined = page.waitForResponse((r) => isCall(r, '/hunt/session'));
    const end = await api('DELETE', '/hunt/end', ctx.token);

    assert.equal(end.status, 200);
    const res = await rejoined;
    const body = await res.json();
    assert.equal(res.status(), 201);
    assert.notEqual(body.session, ctx.token, 'a new token');
    assert.equal(body.score, ctx.score, 'the score is kept');
    ctx.token = body.session;
    await page.waitForFunction(() => /rejoined/.test(
        document.getElementById('status-text').textContent));
    const text = await page.textContent('#status-text');
    assert.match(text, /^Your session was over \(the session has ended or /);
    assert.match(text, /expired\): rejoined, with your score\.$/);
    assert.ok(await page.isHidden('#rejoin'), 'no button: it rejoined');
    assert.ok(await page.isEnabled('#tap'));

    const tap = await tapFor(page, '#tap', '/hunt/tap');
    assert.equal(tap.status(), 200);
    assert.equal(ctx.tapAuth.at(-1), 'Bearer ' + ctx.token);
    ctx.score = (await tap.json()).score;
});

// lost again within REJOIN_QUIET_MS of rejoining by itself: it asks
step('a session that ended elsewhere again at once offers a rejoin',
     async () => {
    const { page } = ctx;
    const end = await api('DELETE', '/hunt/end', ctx.token);

    assert.equal(end.status, 200);
    await page.waitForSelector('#rejoin', { state: 'visible' });
    assert.match(await page.textContent('#status-text'),
                 /session is over \(the session has ended or expired\)/);
    assert.ok(await page.isDisabled('#tap'), 'no tapping without a session');

    const res = await tapFor(page, '#rejoin', '/hunt/session');
    const body = await res.json();
    assert.equal(res.status(), 201);
    assert.notEqual(body.session, ctx.token, 'a new token');
    assert.equal(body.score, ctx.score, 'the score is kept');
    ctx.token = body.session;
    await page.waitForSelector('#status', { state: 'hidden' });
    assert.equal(await page.textContent('#score'), String(ctx.score));
    assert.ok(await page.isEnabled('#tap'));

    const tap = await tapFor(page, '#tap', '/hunt/tap');
    assert.equal(tap.status(), 200);
    assert.equal(ctx.tapAuth.at(-1), 'Bearer ' + ctx.token);
    ctx.score = (await tap.json()).score;
});

step('taps past the rate limit are refused visibly', async () => {
    const { page } = ctx;
    let refused = 0;

    // coinhunt_tap_rate 20r/s burst=40: 60 taps at once overflow it, unless
    // the machine is slow enough to serve them over more than a second
    for (let burst = 0; refused === 0 && burst < 5; burst++) {
        let answered = 0;
        const done = new Promise((resolve) => {
            const seen = (r) => {
                if (!isCall(r, '/hunt/tap')) {
                    return;
                }
                refused += r.status() === 429;
                if (++answered === 60) {
                    page.off('response', seen);
                    resolve();
                }
            };
            page.on('response', seen);
        });
        await page.evaluate(() => {
            for (let i = 0; i < 60; i++) {
                document.getElementById('tap').click();
            }
        });
        await done;
    }
    assert.ok(refused > 0, 'some taps were refused with 429');
    await page.waitForSelector('#status', { state: 'visible' });
    assert.match(await page.textContent('#status-text'),
                 /^Too fast! Wait \d+ s \(429 rate_limited: .+\)\.$/);
    assert.ok(await page.isHidden('#rejoin'), 'the session is still alive');
});

step('leaving ends the session', async () => {
    const { page } = ctx;
    const res = await tapFor(page, '#leave', '/hunt/end');
    const body = await res.json();

    assert.equal(res.status(), 200);
    assert.equal(res.request().method(), 'DELETE');
    await page.waitForSelector('#join', { state: 'visible' });
    assert.equal(await page.textContent('#join-error'),
                 `You left the ${HUNT} hunt with ${body.score} points.`);
    assert.equal(await page.inputValue('#player'), PLAYER, 'name remembered');
    const tap = await api('POST', '/hunt/tap', ctx.token);
    assert.equal(tap.status, 401, 'the token is dead');
    assert.deepEqual(ctx.pageErrors, [], 'no script error on the page');
});

step('below the top ten, the own row comes after a gap', async () => {
    const { page } = ctx;
    const hunt = 'crowd';

    // ten players with a coin each, ahead of a newcomer with none
    for (let i = 0; i < 10; i++) {
        const j = await api('POST', `/hunt/session?player=p${i}&hunt=${hunt}`);
        assert.equal(j.status, 201);
        let t = { body: { score: 0 } };
        for (let n = 0; t.body.score === 0 && n < 40; n++) {
            t = await api('POST', '/hunt/tap', j.body.session);
            assert.equal(t.status, 200);
        }
        assert.ok(t.body.score > 0, `p${i} found a coin`);
    }

    await page.fill('#player', 'zoe');
    await page.fill('#hunt', hunt);
    await page.tap('#join-button');
    await waitForMyRow(page, 0);
    const rows = await boardRows(page);
    assert.equal(rows.length, 11);
    assert.ok(rows.slice(0, 10).every((r) => !r[3] && r[1] !== 'zoe'));
    assert.deepEqual(rows[10], ['11', 'zoe', '0', true]);
    assert.equal(await page.$$eval('#board tr.gap', (t) => t.length), 1);
    assert.equal(await page.textContent('#rank'), '#11');
    assert.equal(await page.textContent('#board-hunt'), hunt);
});
