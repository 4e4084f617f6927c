// SEO spam: links hidden from visitors but shown to crawlers, and content switched on the crawler's user agent.

rule seo_hidden_spam_links
{
    meta:
        category = "seo_spam"
        description = "Hidden block (display:none / visibility:hidden / off-screen) holding links with spam keywords"
    strings:
        $hidden = /(display\s*:\s*none|visibility\s*:\s*hidden|left\s*:\s*-\d{3,}px)/ nocase
        $link = /<a\s[^>]{0,200}href\s*=/ nocase
        $spam = /\b(casino|viagra|cialis|levitra|payday\s+loans?|cheap\s+loans?|online\s+gambling|replica\s+watches|essay\s+writing\s+service|porn)\b/ nocase
    condition:
        $hidden and $link and #spam >= 2
}

rule seo_crawler_cloaking
{
    meta:
        category = "seo_spam"
        description = "Different output for search engine crawlers (user agent checked for Googlebot/Bingbot)"
    strings:
        $ua = "HTTP_USER_AGENT"
        $bot = /(strpos|stripos|preg_match|strstr|stristr)\s*\([^;]{0,150}(googlebot|bingbot|yandexbot|baiduspider)/ nocase
    condition:
        $ua and $bot
}
