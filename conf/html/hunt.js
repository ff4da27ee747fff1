// coinhunt demo page: a plain client of the module's HTTP API (README, "The
// HTTP API").  Join with POST /hunt/session, tap with POST /hunt/tap and the
// session token as a Bearer, poll GET /hunt/leaderboard every second, leave
// with DELETE /hunt/end.  Everything the server sends is shown as text.
'use strict';

const BOARD_TOP = 10;
const POLL_MS = 1000;
const FINDS_KEPT = 6;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
// a session lost again this soon after rejoining by itself: ask, not loop
const REJOIN_QUIET_MS = 10000;
const KINDS = ['copper', 'silver', 'gold', 'dragon_hoard'];

const $ = (id) => document.getElementById(id);

const state = {
    player: '', hunt: '', token: null,
    score: 0, taps: 0, coins: 0,
    polling: null, pollBusy: false, blockedUntil: 0, finds: [],
    rejoining: false, rejoinedAt: 0,
};

// one API call: JSON in every answer, errors included; a network failure
// becomes a status 0 answer so that callers have one shape to look at
async function call(method, path, params, token) {
    const query = new URLSearchParams(params || {}).toString();
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    let res;

    try {
        res = await fetch(path + (query ? '?' + query : ''),
                          { method, headers, cache: 'no-store' });
    } catch (e) {
        return { status: 0, body: { error: 'network',
                 message: 'the server cannot be reached' } };
    }

    let body;
    try {
        body = await res.json();
    } catch (e) {
        body = { error: 'bad_answer', message: 'the answer was not JSON' };
    }
    return { status: res.status, body, retryAfter:
             Number(res.headers.get('Retry-After')) || 1 };
}

function showStatus(text, offerRejoin) {
    $('status-text').textContent = text;
    $('rejoin').hidden = !offerRejoin;
    $('status').hidden = false;
    $('status').classList.toggle('lost', !!offerRejoin);
}

function clearStatus() {
    $('status').hidden = true;
    $('rejoin').hidden = true;
}

function describe(answer) {
    const b = answer.body || {};
    return (answer.status ? answer.status + ' ' : '') +
           (b.error || 'error') + ': ' + (b.message || 'no message');
}

function showNumbers() {
    $('score').textContent = state.score;
    $('taps').textContent = state.taps;
    $('coins').textContent = state.coins;
}

async function join(player, hunt) {
    const a = await call('POST', '/hunt/session', { player, hunt });

    if (a.status !== 201) {
        return a;
    }
    Object.assign(state, {
        player: a.body.player, hunt: a.body.hunt, token: a.body.session,
        score: a.body.score, taps: a.body.taps, coins: a.body.coins,
        blockedUntil: 0,
    });
    try {
        localStorage.setItem('coinhunt', JSON.stringify({ player, hunt }));
    } catch (e) {
        // a private window may refuse storage: the form is only not prefilled
    }
    $('who').textContent = state.player + ' in ' + state.hunt;
    $('who').hidden = false;
    $('board-hunt').textContent = state.hunt;
    $('join').hidden = true;
    $('game').hidden = false;
    $('tap').disabled = false;
    clearStatus();
    showNumbers();
    startPolling();
    return a;
}

// a 401: the session ended or expired, or its node is gone (in Redis mode
// another node takes the player with the score Redis has): the page joins
// again by itself, unless it just did so, then it offers a rejoin
async function sessionLost(message) {
    if (state.rejoining) {
        return;
    }
    state.token = null;
    $('tap').disabled = true;
    if (Date.now() - state.rejoinedAt > REJOIN_QUIET_MS) {
        state.rejoining = true;
        state.rejoinedAt = Date.now();
        const a = await join(state.player, state.hunt);
        state.rejoining = false;
        if (a.status === 201) {
            showStatus('Your session was over (' + message + '): rejoined, ' +
                       'with your score.', false);
            return;
        }
    }
    showStatus('Your session is over (' + message + ').', true);
}

function kindClass(kind) {
    return 'coin-' + (KINDS.includes(kind) ? kind : 'other');
}

function popCoin(coin, x, y) {
    const pop = document.createElement('span');
    const kind = String(coin.kind);

    pop.className = 'pop ' + kindClass(kind);
    pop.textContent = '+' + coin.value + ' ' + kind.replace(/_/g, ' ');
    pop.style.left = (x === undefined ? 50 : x * 100) + '%';
    pop.style.top = (y === undefined ? 40 : y * 100) + '%';
    pop.addEventListener('animationend', () => pop.remove());
    // quick finds would pile up on one spot: the newest replaces the others
    $('pops').replaceChildren(pop);

    $('last-coin').textContent = 'Found ' + kind.replace(/_/g, ' ') +
                                 ': +' + coin.value;
    $('last-coin').className = kindClass(kind);

    state.finds.unshift(coin);
    state.finds.length = Math.min(state.finds.length, FINDS_KEPT);
    $('finds').replaceChildren(...state.finds.map((c) => {
        const li = document.createElement('li');
        li.className = kindClass(String(c.kind));
        li.textContent = '+' + c.value;
        li.title = String(c.kind);
        return li;
    }));
}

async function tap(ev) {
    const token = state.token;
    const params = {};
    let x, y;

    if (!token || Date.now() < state.blockedUntil) {
        return;
    }
    // where the button was hit, 0..1; keyboard presses have no position
    if (ev.detail > 0) {
        const box = ev.currentTarget.getBoundingClientRect();
        x = Math.min(Math.max((ev.clientX - box.left) / box.width, 0), 1);
        y = Math.min(Math.max((ev.clientY - box.top) / box.height, 0), 1);
        params.x = x.toFixed(3);
        params.y = y.toFixed(3);
    }

    const a = await call('POST', '/hunt/tap', params, token);

    if (token !== state.token) {
        return;                          // an answer for a session left since
    }
    if (a.status === 200) {
        // taps may answer out of order: the highest count is the latest state
        if (a.body.taps > state.taps) {
            state.score = a.body.score;
            state.taps = a.body.taps;
            state.coins = a.body.coins;
            showNumbers();
        }
        if (a.body.coin) {
            popCoin(a.body.coin, x, y);
        }
        // a tap sent before a 429 may answer after it: the wait still holds
        if (!$('status').classList.contains('lost')
            && Date.now() >= state.blockedUntil) {
            clearStatus();
        }
    } else if (a.status === 429) {
        state.blockedUntil = Date.now() + a.retryAfter * 1000;
        showStatus('Too fast! Wait ' + a.retryAfter + ' s (' + describe(a) +
                   ').', false);
    } else if (a.status === 401) {
        sessionLost(a.body.message);
    } else {
        showStatus('That tap failed: ' + describe(a) + '.', false);
    }
}

function boardRow(rank, player, score, mine) {
    const tr = document.createElement('tr');

    for (const text of [rank === null ? '\u2013' : rank, player, score]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
    }
    if (mine) {
        tr.className = 'me';
        tr.setAttribute('aria-current', 'true');
    }
    return tr;
}

function showBoard(body) {
    const rows = [];
    let seen = false;

    for (const e of body.top) {
        const mine = e.player === state.player;
        seen = seen || mine;
        rows.push(boardRow(e.rank, e.player, e.score, mine));
    }
    // below the top: a gap, then our own row from "me"
    if (!seen && body.me) {
        const gap = document.createElement('tr');
        gap.className = 'gap';
        gap.innerHTML = '<td colspan="3">\u22ee</td>';
        rows.push(gap, boardRow(body.me.rank, state.player, body.me.score,
                                true));
    }
    $('board').replaceChildren(...rows);
    $('rank').textContent = body.me && body.me.rank !== null
                            ? '#' + body.me.rank : '\u2013';
    $('board-note').hidden = true;
}

async function poll() {
    const token = state.token;

    if (!token || state.pollBusy) {
        return;
    }
    state.pollBusy = true;
    const a = await call('GET', '/hunt/leaderboard',
                         { hunt: state.hunt, top: BOARD_TOP }, token);
    state.pollBusy = false;

    if (token !== state.token) {
        return;
    }
    if (a.status === 200) {
        showBoard(a.body);
    } else if (a.status === 401) {
        sessionLost(a.body.message);
    } else {
        $('board-note').textContent = 'Leaderboard not refreshed: ' +
                                      describe(a) + '.';
        $('board-note').hidden = false;
    }
}

function startPolling() {
    clearInterval(state.polling);
    poll();
    state.polling = setInterval(poll, POLL_MS);
}

function stopPolling() {
    clearInterval(state.polling);
    state.polling = null;
}

function backToForm(message) {
    stopPolling();
    state.token = null;
    state.finds = [];
    $('finds').replaceChildren();
    $('pops').replaceChildren();
    $('last-coin').textContent = 'Nothing found yet: keep tapping.';
    $('last-coin').className = '';
    $('board').replaceChildren();
    $('rank').textContent = '\u2013';
    $('who').hidden = true;
    $('game').hidden = true;
    $('join').hidden = false;
    $('join-error').textContent = message;
    $('join-error').hidden = !message;
    $('join-error').className = 'note';
}

document.addEventListener('DOMContentLoaded', () => {
    try {
        const saved = JSON.parse(localStorage.getItem('coinhunt') || '{}');
        $('player').value = saved.player || '';
        $('hunt').value = saved.hunt || 'demo';
    } catch (e) {
        // nothing saved, or storage refused: the defaults stay
    }

    $('join').addEventListener('submit', async (ev) => {
        const player = $('player').value.trim();
        const hunt = $('hunt').value.trim() || 'demo';
        const err = $('join-error');

        ev.preventDefault();
        err.className = 'error';
        if (!NAME.test(player) || !NAME.test(hunt)) {
            err.textContent = 'Names are 1 to 64 characters of ' +
                              'A-Z a-z 0-9 _ . -';
            err.hidden = false;
            return;
        }
        $('join-button').disabled = true;
        const a = await join(player, hunt);
        $('join-button').disabled = false;
        if (a.status !== 201) {
            err.textContent = 'Could not join: ' + describe(a) + '.';
            err.hidden = false;
        }
    });

    $('tap').addEventListener('click', tap);

    $('rejoin').addEventListener('click', async () => {
        const a = await join(state.player, state.hunt);
        if (a.status !== 201) {
            showStatus('Could not rejoin: ' + describe(a) + '.', true);
        }
    });

    $('leave').addEventListener('click', async () => {
        const token = state.token;
        const a = token ? await call('DELETE', '/hunt/end', {}, token)
                        : { status: 0 };
        backToForm(a.status === 200
                   ? 'You left the ' + a.body.hunt + ' hunt with ' +
                     a.body.score + ' points.'
                   : '');
    });
});
