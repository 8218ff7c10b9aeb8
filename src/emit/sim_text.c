/* sim_text.c: the text of simulated topics, announcements, entries and titles: HTML as Canvas's rich
 * content editor writes it (paragraphs, lists, links, quotes, emphasis), with the vocabulary of the
 * course's subject and some unicode (accents, CJK, Arabic, emoji). Lengths are log-normal, mostly
 * short with a long tail, and a few pasted essays run past 8192 characters, which are then cut
 * exactly as Canvas cuts them (lv_text_truncate). */
#include "levee/simulate.h"
#include "levee/text.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const common[] = {
    "the", "the", "the", "a", "a", "of", "of", "and", "and", "to", "to", "in", "in", "is", "is",
    "that", "it", "for", "this", "with", "as", "on", "was", "be", "are", "not", "but", "by", "we",
    "they", "I", "I", "you", "what", "how", "why", "when", "which", "more", "also", "can", "would",
    "could", "should", "think", "reading", "chapter", "author", "example", "idea", "point",
    "question", "argument", "evidence", "really", "actually", "important", "different", "because",
    "between", "week", "lecture", "class", "article", "source", "people", "about", "from", "their",
    "our", "my", "interesting", "agree", "disagree", "understand", "explain", "suggests", "shows",
    "seems", "made", "clear", "most", "some", "many", "one", "two", "first", "second", "however",
    "therefore", "especially", "similar", "context", "approach", "theory", "practice", "data",
    "result", "problem", "solution", "case", "study", "model", "process", "structure", "effect",
    "cause", "change", "system", "group", "part", "way", "time", "world", "life", "work", "research",
    "concept", "discussion", "perspective", "assumption", "conclusion", "experience", "quite",
    "rather", "perhaps", "probably", "definitely", "often", "rarely", "always", "never", "still",
};

static const char *const unicode_words[] = {
    "café", "naïve", "façade", "résumé", "Zürich", "São Paulo", "Ångström", "Schrödinger",
    "π ≈ 3.14", "→", "—", "“really”", "…", "😀", "👍", "🙂", "🎉", "🤔", "北京", "東京大学",
    "ありがとう", "谢谢", "감사합니다", "Привет", "مرحبا", "שלום", "Ελληνικά", "über", "jalapeño",
    "coöperate", "Kraków", "Dvořák", "Māori", "½", "°C", "€20", "™",
};

static const char *const openers[] = {
    "I think", "In my opinion,", "According to the reading,", "Great point!", "I agree with",
    "I'm not sure", "Building on what others said,", "One thing I noticed is that",
    "To be honest,", "From my own experience,", "The article argues that", "Interestingly,",
    "Good question.", "Thanks for sharing this.", "I see it differently:", "What struck me was",
    "Honestly", "Looking back at the lecture,", "Like you said,", "Quick follow-up:",
};

static const struct subject {
    const char *name;
    const char *words[12];
} subjects[] = {
    { "Biology", { "cell", "membrane", "photosynthesis", "enzyme", "mitochondria", "DNA",
                   "evolution", "protein", "ecosystem", "gene", "species", "osmosis" } },
    { "History", { "empire", "revolution", "treaty", "century", "colonial", "archive", "monarchy",
                   "war", "trade", "reform", "dynasty", "primary source" } },
    { "Computer Science", { "algorithm", "recursion", "pointer", "compiler", "hash table",
                            "complexity", "thread", "database", "network", "cache", "graph",
                            "big-O" } },
    { "Literature", { "narrator", "metaphor", "novel", "poem", "character", "irony", "theme",
                      "sonnet", "protagonist", "imagery", "stanza", "allegory" } },
    { "Mathematics", { "proof", "integral", "matrix", "theorem", "derivative", "vector", "limit",
                       "eigenvalue", "function", "lemma", "series", "topology" } },
    { "Chemistry", { "molecule", "reaction", "bond", "catalyst", "equilibrium", "electron",
                     "titration", "entropy", "isotope", "solvent", "oxidation", "pH" } },
    { "Psychology", { "cognition", "behavior", "memory", "bias", "experiment", "stimulus",
                      "attachment", "motivation", "perception", "conditioning", "survey",
                      "placebo" } },
    { "Economics", { "market", "inflation", "demand", "supply", "elasticity", "tariff", "GDP",
                     "incentive", "monopoly", "interest rate", "utility", "externality" } },
    { "Spanish", { "español", "canción", "niño", "¿por qué?", "mañana", "corazón", "película",
                   "subjuntivo", "vocabulario", "años", "según", "¡qué bien!" } },
    { "Physics", { "momentum", "velocity", "quantum", "field", "wave", "friction", "energy",
                   "relativity", "particle", "torque", "entropy", "photon" } },
};

static const char *const title_patterns[] = {
    "Week %u: %s and %s", "Discussion %u — %s", "%s vs. %s: what do you think?",
    "Module %u reflection: %s", "Case study: %s", "Reading response %u (%s)",
    "Debate: is %s overrated?", "Introduce yourself 👋", "Muddiest point: %s",
};

static const char *const announcement_titles[] = {
    "Welcome to the course!", "Reminder: %s due Friday", "Office hours moved to Thursday",
    "Exam %u review session", "Grades posted for %s", "Room change for next week",
    "Guest lecture on %s 🎉", "Campus closed — class online today", "Midterm survey",
    "Extra credit: %s", "Week %u overview",
};

static const char *const link_targets[] = {
    "https://en.wikipedia.org/wiki/", "https://www.youtube.com/watch?v=", "https://doi.org/10.1000/",
    "https://www.jstor.org/stable/", "https://arxiv.org/abs/2401.",
};

static const struct subject *subject_of(unsigned subject)
{
    return &subjects[subject % COUNT(subjects)];
}

static const char *pick(lv_prng *r, const char *const *words, size_t n)
{
    return words[lv_prng_below(r, n)];
}

/* A word: mostly common, some from the subject, now and then unicode. */
static const char *word(lv_prng *r, const struct subject *sub)
{
    uint64_t x = lv_prng_below(r, 1000);
    if (x < 150)
        return sub->words[lv_prng_below(r, COUNT(sub->words))];
    if (x < 162)
        return pick(r, unicode_words, COUNT(unicode_words));
    return pick(r, common, COUNT(common));
}

static void put_capitalized(lv_buf *b, const char *w)
{
    if (*w >= 'a' && *w <= 'z') {
        lv_buf_putc(b, (char)(*w - 'a' + 'A'));
        lv_buf_puts(b, w + 1);
    } else {
        lv_buf_puts(b, w);
    }
}

static void sentence(lv_prng *r, const struct subject *sub, lv_buf *b)
{
    unsigned n = 4 + (unsigned)lv_prng_below(r, 14);
    bool opener = lv_prng_chance(r, 0.3);
    if (opener) {
        lv_buf_puts(b, pick(r, openers, COUNT(openers)));
    } else {
        put_capitalized(b, word(r, sub));
        n--;
    }
    bool styled = false;
    for (unsigned i = 0; i < n; i++) {
        lv_buf_putc(b, i && lv_prng_chance(r, 0.06) ? ',' : ' ');
        if (i && b->data[b->len - 1] == ',')
            lv_buf_putc(b, ' ');
        if (!styled && lv_prng_chance(r, 0.02)) {
            styled = true;
            const char *tag = lv_prng_chance(r, 0.5) ? "strong" : "em";
            lv_buf_printf(b, "<%s>%s</%s>", tag, word(r, sub), tag);
        } else {
            lv_buf_puts(b, word(r, sub));
        }
    }
    static const char ends[] = { '.', '.', '.', '.', '?', '!' };
    lv_buf_putc(b, ends[lv_prng_below(r, sizeof ends)]);
}

static void link(lv_prng *r, const struct subject *sub, lv_buf *b)
{
    const char *target = pick(r, link_targets, COUNT(link_targets));
    lv_buf_printf(b, "<a href=\"%s", target);
    for (int i = 0; i < 11; i++)
        lv_buf_putc(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[lv_prng_below(r, 62)]);
    lv_buf_printf(b, "\" target=\"_blank\">%s</a>", sub->words[lv_prng_below(r, COUNT(sub->words))]);
}

/* Paragraphs until the text holds about `target` characters. */
static void html_body(lv_prng *r, const struct subject *sub, lv_sim_text_kind kind, size_t target,
                      lv_buf *b)
{
    size_t start = b->len;
    bool rich = kind == LV_SIM_TEXT_TOPIC || kind == LV_SIM_TEXT_ANNOUNCEMENT;
    if (rich && lv_prng_chance(r, 0.3)) {
        lv_buf_puts(b, "<h3>");
        put_capitalized(b, sub->words[lv_prng_below(r, COUNT(sub->words))]);
        lv_buf_puts(b, "</h3>");
    }
    if (kind == LV_SIM_TEXT_REPLY && lv_prng_chance(r, 0.08)) {
        lv_buf_puts(b, "<blockquote><p>");
        sentence(r, sub, b);
        lv_buf_puts(b, "</p></blockquote>");
    }
    size_t chars = 0;
    while (chars < target) {
        size_t before = b->len;
        if (rich && lv_prng_chance(r, 0.12)) {
            unsigned items = 2 + (unsigned)lv_prng_below(r, 4);
            lv_buf_puts(b, lv_prng_chance(r, 0.5) ? "<ul>" : "<ol>");
            bool ordered = b->data[b->len - 3] == 'o';
            for (unsigned i = 0; i < items; i++) {
                lv_buf_puts(b, "<li>");
                sentence(r, sub, b);
                lv_buf_puts(b, "</li>");
            }
            lv_buf_puts(b, ordered ? "</ol>" : "</ul>");
        } else {
            lv_buf_puts(b, "<p>");
            unsigned n = 1 + (unsigned)lv_prng_below(r, 5);
            for (unsigned i = 0; i < n && chars + (b->len - before) < target + 40; i++) {
                if (i)
                    lv_buf_putc(b, ' ');
                sentence(r, sub, b);
            }
            if (lv_prng_chance(r, 0.05)) {
                lv_buf_putc(b, ' ');
                link(r, sub, b);
            }
            lv_buf_puts(b, "</p>");
        }
        chars += lv_utf8_count(b->data + before, b->len - before);
    }
    if (b->len == start)
        lv_buf_puts(b, "<p>Thanks!</p>");
}

static void title(lv_prng *r, const struct subject *sub, bool announcement, lv_buf *b)
{
    const char *a = sub->words[lv_prng_below(r, COUNT(sub->words))];
    const char *c = sub->words[lv_prng_below(r, COUNT(sub->words))];
    unsigned n = 1 + (unsigned)lv_prng_below(r, 14);
    char text[256];
    const char *pattern = announcement ? pick(r, announcement_titles, COUNT(announcement_titles))
                                       : pick(r, title_patterns, COUNT(title_patterns));
    /* Each pattern takes at most a number and two words; pass what it asks for in order. */
    const char *pct = strchr(pattern, '%');
    if (!pct)
        snprintf(text, sizeof text, "%s", pattern);
    else if (pct[1] == 'u')
        snprintf(text, sizeof text, pattern, n, a, c);
    else
        snprintf(text, sizeof text, pattern, a, c);
    put_capitalized(b, text);
}

/* Target length in characters: log-normal, with a tail of pasted essays. */
static size_t target_length(lv_prng *r, lv_sim_text_kind kind)
{
    double median, sigma, essays;
    switch (kind) {
    case LV_SIM_TEXT_ENTRY: median = 420, sigma = 0.9, essays = 0.015; break;
    case LV_SIM_TEXT_REPLY: median = 160, sigma = 0.9, essays = 0.003; break;
    case LV_SIM_TEXT_TOPIC: median = 600, sigma = 0.8, essays = 0.02; break;
    default: median = 450, sigma = 0.8, essays = 0.005; break;
    }
    double n = lv_prng_chance(r, essays) ? lv_prng_lognormal(r, 9.15, 0.35) /* median ~9400 */
                                         : lv_prng_lognormal(r, log(median), sigma);
    if (n < 12)
        n = 12;
    if (n > 60000)
        n = 60000;
    return (size_t)n;
}

bool lv_sim_text(lv_prng *rng, lv_sim_text_kind kind, unsigned subject, lv_buf *scratch, lv_buf *out)
{
    const struct subject *sub = subject_of(subject);
    lv_buf_reset(scratch);
    if (kind == LV_SIM_TEXT_TITLE || kind == LV_SIM_TEXT_ANNOUNCEMENT_TITLE)
        title(rng, sub, kind == LV_SIM_TEXT_ANNOUNCEMENT_TITLE, scratch);
    else
        html_body(rng, sub, kind, target_length(rng, kind), scratch);
    return lv_text_truncate(scratch->data, scratch->len, LV_TEXT_LIMIT, out);
}
