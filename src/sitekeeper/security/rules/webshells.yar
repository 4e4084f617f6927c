// PHP web shells: code that runs what the request sends, and the markers of the well-known kits.
// Each rule needs PHP code AND a dangerous sink fed directly by request input, so framework code that calls
// eval() or system() on its own data does not match.

rule php_exec_request_input
{
    meta:
        category = "webshell"
        description = "eval/assert/system/exec-family call whose argument is request input ($_GET/$_POST/...)"
    strings:
        $sink = /\b(eval|assert|system|exec|passthru|shell_exec|popen|proc_open|pcntl_exec)\s*\(\s*@?\s*([a-z_0-9]+\s*\(\s*)*\$_(GET|POST|REQUEST|COOKIE|SERVER|FILES)\b/ nocase
        $backtick = /(=|echo|print|return)\s*`\s*\$_(GET|POST|REQUEST|COOKIE)\s*\[[^\]\n]{1,40}\]\s*`/
    condition:
        any of them
}

rule php_eval_base64_chain
{
    meta:
        category = "webshell"
        description = "eval/assert of decoded data: eval(base64_decode(...)), eval(gzinflate(str_rot13(...)))"
    strings:
        $chain = /\b(eval|assert)\s*\(\s*@?\s*(\w+\s*\(\s*)*(base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13|hex2bin|convert_uudecode)\s*\(/ nocase
    condition:
        $chain
}

rule php_preg_replace_e
{
    meta:
        category = "webshell"
        description = "preg_replace with the /e modifier (evaluates the replacement as PHP; removed in PHP 7)"
    strings:
        $e = /preg_replace\s*\(\s*["'][\/#~@!|][^"'\n]{0,300}[\/#~@!|][imsxuADSUXJ]*e[imsxuADSUXJ]*["']\s*,/
    condition:
        $e
}

rule php_create_function_input
{
    meta:
        category = "webshell"
        description = "create_function built from request input"
    strings:
        $cf = /create_function\s*\([^;]{0,200}\$_(GET|POST|REQUEST|COOKIE)/ nocase
    condition:
        $cf
}

rule php_webshell_kit_markers
{
    meta:
        category = "webshell"
        description = "Markers of known web shell kits: FilesMan, c99, r57, WSO"
    strings:
        $filesman = "FilesMan"
        $c99 = /c99(shell|_buff_prepare|sh_)/ nocase
        $r57 = /r57(shell|_)/ nocase
        $wso1 = "WSO_VERSION" nocase
        $wso2 = "wsoLogin"
        $wso3 = "Web Shell by oRb"
        $php = "<?"
    condition:
        $php and any of ($filesman, $c99, $r57, $wso*)
}
