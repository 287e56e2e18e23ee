/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_top_draw.c - the terminal of `expectctl top`, through ncurses only
 * (terminfo says what the terminal can do: xterm, screen, tmux, a console,
 * over ssh alike).  It draws the lines ctl_top_text.c lays out and reads
 * keys; it knows nothing of the segment.  Colour only where the terminal
 * has it and NO_COLOR (https://no-color.org) is unset or empty; without
 * colour the same lines are told apart by reverse video and bold.
 */
#include <curses.h>
#include <langinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "ctl_top.h"

static SCREEN *screen;
static int colour;
/* The signal that asked top to end (0: none): the loop ends through
 * top_draw_close, never from the handler, so the terminal is restored. */
static volatile sig_atomic_t caught;

/* How often a wait with no end (a question, the filter prompt) looks
 * whether a signal came: ncurses may restart a read a signal broke. */
#define SIGNAL_POLL_MS 250

static void note_signal(int sig)
{
    caught = sig;
}

/* Ctrl-C, Ctrl-\, a closed terminal, kill: each would leave the terminal
 * in the alternate screen with echo off (ncurses restores it on SIGINT and
 * SIGTERM only, then exits 1 as for an error).  No SA_RESTART: a blocked
 * read returns at once. */
static void catch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};
    struct sigaction sa;
    size_t i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = note_signal;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaction(sigs[i], &sa, NULL);
    }
}

int top_draw_signal(void)
{
    return (int)caught;
}

enum { PAIR_TITLE = 1, PAIR_BANNER, PAIR_HEAD, PAIR_SELECTED, PAIR_PANE };

int top_draw_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    wchar_t c;

    if (cs == NULL || strcmp(cs, "UTF-8") != 0) {
        return 0;
    }
    /* U+2581..U+2588 are East Asian Ambiguous: two columns in a CJK
     * locale, which would push every row past the edge.  ASCII then. */
    for (c = 0x2581; c <= 0x2588; c++) {
        if (wcwidth(c) != 1) {
            return 0;
        }
    }
    return 1;
}

int top_draw_open(char *err, size_t errlen)
{
    const char *term = getenv("TERM");
    const char *nc = getenv("NO_COLOR");

    /* newterm, not initscr: initscr exits the program on a terminal type
     * it does not know, where a clear error is due. */
    screen = newterm(NULL, stdout, stdin);
    if (screen == NULL) {
        snprintf(err, errlen, "cannot drive the terminal (TERM=%s): set TERM to a type "
                 "terminfo knows, such as xterm, or use top --once",
                 term != NULL && *term != '\0' ? term : "unset");
        return -1;
    }
    set_term(screen);
    catch_signals();
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    /* Esc goes back: do not wait a second to see whether a sequence follows. */
    set_escdelay(25);
    /* Home and End come in several dialects (a vt220's, xterm's two
     * modes): take each, whatever terminfo says this terminal sends. */
    define_key("\033[1~", KEY_HOME);
    define_key("\033[4~", KEY_END);
    define_key("\033[H", KEY_HOME);
    define_key("\033[F", KEY_END);
    define_key("\033OH", KEY_HOME);
    define_key("\033OF", KEY_END);
    curs_set(0);
    colour = has_colors() && (nc == NULL || *nc == '\0');
    if (colour) {
        start_color();
        use_default_colors();
        init_pair(PAIR_TITLE, COLOR_BLACK, COLOR_CYAN);
        init_pair(PAIR_BANNER, COLOR_WHITE, COLOR_RED);
        init_pair(PAIR_HEAD, COLOR_BLACK, COLOR_GREEN);
        init_pair(PAIR_SELECTED, COLOR_BLACK, COLOR_CYAN);
        init_pair(PAIR_PANE, COLOR_BLACK, COLOR_GREEN);
    }
    return 0;
}

void top_draw_close(void)
{
    if (screen != NULL) {
        endwin();
        delscreen(screen);
        screen = NULL;
    }
}

void top_draw_size(int *width, int *height)
{
    getmaxyx(stdscr, *height, *width);
}

/* The attributes and colour pair of a kind of line; whole: the colour
 * runs to the right edge. */
static attr_t line_attr(top_line_t kind, short *pair, int *whole)
{
    *pair = 0;
    *whole = 1;
    switch (kind) {
    case TOP_L_TITLE:
        *pair = PAIR_TITLE;
        return colour ? A_NORMAL : A_REVERSE;
    case TOP_L_BANNER:
        *pair = PAIR_BANNER;
        return A_BOLD | (colour ? A_NORMAL : A_REVERSE);
    case TOP_L_HEAD:
        *pair = PAIR_HEAD;
        return colour ? A_NORMAL : A_REVERSE;
    case TOP_L_SELECTED:
        *pair = PAIR_SELECTED;
        return colour ? A_BOLD : A_REVERSE;
    case TOP_L_PANE:
        *pair = PAIR_PANE;
        return colour ? A_NORMAL : A_BOLD | A_UNDERLINE;
    case TOP_L_STATUS:
        *whole = 0;
        return A_BOLD;
    default:
        *whole = 0;
        return A_NORMAL;
    }
}

static void draw_line(void *ctx, int y, top_line_t kind, const char *text)
{
    int width, height, whole;
    short pair;
    attr_t a = line_attr(kind, &pair, &whole);

    (void)ctx;
    getmaxyx(stdscr, height, width);
    if (y < 0 || y >= height) {
        return;
    }
    move(y, 0);
    attrset(a | (colour ? COLOR_PAIR(pair) : 0));
    /* The lines are laid out for this width; the bottom right corner is
     * left alone, where writing makes some terminals scroll. */
    addstr(text);
    if (whole) {
        chgat(-1, a, colour ? pair : 0, NULL);
    }
    attrset(A_NORMAL);
    (void)width;
}

size_t top_draw_frame(const top_model_t *m, const top_view_t *view)
{
    size_t room;

    erase();
    room = top_frame(m, view, draw_line, NULL);
    refresh();
    return room;
}

static int translate(int c)
{
    switch (c) {
    case KEY_UP:        return TOP_KEY_UP;
    case KEY_DOWN:      return TOP_KEY_DOWN;
    case KEY_PPAGE:     return TOP_KEY_PGUP;
    case KEY_NPAGE:     return TOP_KEY_PGDN;
    case KEY_HOME:      return TOP_KEY_HOME;
    case KEY_END:       return TOP_KEY_END;
    case KEY_ENTER: case '\r': case '\n':
        return TOP_KEY_ENTER;
    case 27:            return TOP_KEY_ESC;
    case KEY_RESIZE:    return TOP_KEY_RESIZE;
    case KEY_BACKSPACE: case 127: case 8:
        return TOP_KEY_BACKSPACE;
    default:            return c;
    }
}

int top_draw_key(long ms)
{
    int c;

    for (;;) {
        if (caught) {
            return TOP_KEY_QUIT;
        }
        timeout(ms < 0 || ms > SIGNAL_POLL_MS ? SIGNAL_POLL_MS : (int)ms);
        c = getch();
        if (caught) {
            return TOP_KEY_QUIT;
        }
        if (c != ERR) {
            return translate(c);
        }
        if (ms >= 0 && ms <= SIGNAL_POLL_MS) {
            return -1;
        }
        if (ms > 0) {
            ms -= SIGNAL_POLL_MS;
        }
    }
}

int top_draw_prompt(const char *prompt, char *buf, size_t len)
{
    char line[256];
    size_t n = 0;
    int width, height, c;

    line[0] = '\0';
    curs_set(1);
    for (;;) {
        getmaxyx(stdscr, height, width);
        move(height - 1, 0);
        clrtoeol();
        attrset(A_BOLD);
        mvaddnstr(height - 1, 0, prompt, width - 1);
        attrset(A_NORMAL);
        addnstr(line, width - 1 - (int)strlen(prompt) > 0
                          ? width - 1 - (int)strlen(prompt) : 0);
        refresh();
        c = top_draw_key(-1);
        if (c == TOP_KEY_ENTER) {
            break;
        }
        if (c == TOP_KEY_ESC || c == TOP_KEY_QUIT) {
            curs_set(0);
            return -1;
        }
        if (c == TOP_KEY_BACKSPACE) {
            if (n > 0) {
                line[--n] = '\0';
            }
        }
        else if (c >= 0x20 && c < 0x7f && n + 1 < sizeof(line) && n + 1 < len) {
            line[n++] = (char)c;
            line[n] = '\0';
        }
    }
    curs_set(0);
    snprintf(buf, len, "%s", line);
    return 0;
}
