
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_game.h"


/*
 * What a player is told when a call of the game fails, whatever the
 * transport: the statuses are HTTP's, the codes and messages the API's.
 * In the order of ngx_http_coinhunt_fail_e.
 */
const ngx_http_coinhunt_fail_t  ngx_http_coinhunt_fails[] = {
    /* NGX_HTTP_COINHUNT_FAIL_TOKEN */
    { 401, ngx_string("unauthorized"),
      ngx_string("the session token is not valid") },
    /* NGX_HTTP_COINHUNT_FAIL_GONE */
    { 401, ngx_string("unauthorized"),
      ngx_string("the session has ended or expired") },
    /* NGX_HTTP_COINHUNT_FAIL_REPLAY */
    { 409, ngx_string("replay"),
      ngx_string("seq must increase with every tap of the session") },
    /* NGX_HTTP_COINHUNT_FAIL_RATE */
    { 429, ngx_string("rate_limited"),
      ngx_string("the session taps faster than coinhunt_tap_rate allows") },
    /* NGX_HTTP_COINHUNT_FAIL_TAPS */
    { 429, ngx_string("rate_limited"),
      ngx_string("too many simultaneous taps of one session") },
    /* NGX_HTTP_COINHUNT_FAIL_TAP_RULE */
    { 500, ngx_string("rule_error"),
      ngx_string("the hunt's on_tap rule failed") },
    /* NGX_HTTP_COINHUNT_FAIL_JOIN_RULE */
    { 500, ngx_string("rule_error"),
      ngx_string("the hunt's on_join rule failed") },
    /* NGX_HTTP_COINHUNT_FAIL_HUNTS */
    { 503, ngx_string("sessions_full"),
      ngx_string("the zone holds as many hunts as it can (1024)") },
    /* NGX_HTTP_COINHUNT_FAIL_SESSIONS */
    { 503, ngx_string("sessions_full"),
      ngx_string("every session slot is taken; try again later") },
    /* NGX_HTTP_COINHUNT_FAIL_UNAVAILABLE */
    { 503, ngx_string("unavailable"),
      ngx_string("the leaderboard backend (Redis) is unavailable; "
                 "try again later") },
    /* NGX_HTTP_COINHUNT_FAIL_OTHER_HUNT */
    { 400, ngx_string("bad_request"),
      ngx_string("the session plays another hunt") },
    /* NGX_HTTP_COINHUNT_FAIL_NO_QUERY */
    { 404, ngx_string("no_query"),
      ngx_string("the hunt's rules answer no queries (no on_query)") },
    /* NGX_HTTP_COINHUNT_FAIL_QUERY_RULE */
    { 500, ngx_string("rule_error"),
      ngx_string("the hunt's on_query rule failed") }
};


/* a refusal of the rules (coinhunt.refuse) as a failure, counted */
const ngx_http_coinhunt_fail_t *
ngx_http_coinhunt_game_refused(ngx_http_coinhunt_fail_t *fail,
    ngx_http_coinhunt_verdict_t *verdict)
{
    fail->status = verdict->status;
    fail->code.len = verdict->code_len;
    fail->code.data = verdict->code;
    fail->message.len = verdict->message_len;
    fail->message.data = verdict->message;

    ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), refused, 1);

    return fail;
}
