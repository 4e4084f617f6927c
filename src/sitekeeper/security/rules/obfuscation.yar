// Fixed repetition counts on purpose: YARA gives up on long unbounded matches ({1000,} never matches).
// Obfuscated PHP injections: the payload hidden as a long encoded blob, rebuilt from chr() codes, or
// decompressed from base64 — shapes legitimate code does not need.

rule php_gzinflate_base64
{
    meta:
        category = "obfuscation"
        description = "gzinflate/gzuncompress/str_rot13 of base64_decode (compressed payload)"
    strings:
        $g = /\b(gzinflate|gzuncompress|gzdecode|str_rot13)\s*\(\s*base64_decode\s*\(/ nocase
    condition:
        $g
}

rule php_long_blob_eval
{
    meta:
        category = "obfuscation"
        description = "A long base64 (1000+) or hex-escaped (200+ bytes) blob in a PHP file that also calls eval/assert"
    strings:
        $php = "<?php" nocase
        $b64 = /['"][A-Za-z0-9+\/]{1000}/
        $hex = /(\\x[0-9a-fA-F]{2}){200}/
        $eval = /\b(eval|assert)\s*\(/ nocase
    condition:
        $php and $eval and ($b64 or $hex)
}

rule php_chr_chain
{
    meta:
        category = "obfuscation"
        description = "A string rebuilt from 12+ chained chr() calls"
    strings:
        $chain = /(chr\s*\(\s*\d{1,3}\s*\)\s*\.\s*){12,}/ nocase
    condition:
        $chain
}

rule php_variable_function_decode
{
    meta:
        category = "obfuscation"
        description = "The name base64_decode (or eval) assembled from pieces at run time"
    strings:
        $split1 = /["']ba["']\s*\.\s*["']se64_["']/ nocase
        $split2 = /["']base["']\s*\.\s*["']64_decode["']/ nocase
        $split3 = /["']ev["']\s*\.\s*["']al["']/ nocase
        $rev = "edoced_46esab" nocase
    condition:
        any of them
}
