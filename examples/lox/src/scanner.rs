//! The scanner: source text to tokens, on demand (clox's `scanner.c`).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Comma,
    Dot,
    Minus,
    Plus,
    Semicolon,
    Slash,
    Star,
    Bang,
    BangEqual,
    Equal,
    EqualEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    Identifier,
    String,
    Number,
    And,
    Class,
    Else,
    False,
    For,
    Fun,
    If,
    Nil,
    Or,
    Print,
    Return,
    Super,
    This,
    True,
    Var,
    While,
    Error,
    Eof,
}

#[derive(Debug, Clone, Copy)]
pub struct Token<'s> {
    pub kind: Tok,
    /// The lexeme, or the message for an error token.
    pub text: &'s str,
    pub line: u32,
}

pub struct Scanner<'s> {
    src: &'s str,
    start: usize,
    cur: usize,
    line: u32,
}

impl<'s> Scanner<'s> {
    pub fn new(src: &'s str) -> Scanner<'s> {
        Scanner {
            src,
            start: 0,
            cur: 0,
            line: 1,
        }
    }

    fn peek(&self) -> u8 {
        *self.src.as_bytes().get(self.cur).unwrap_or(&0)
    }

    fn peek_next(&self) -> u8 {
        *self.src.as_bytes().get(self.cur + 1).unwrap_or(&0)
    }

    fn at_end(&self) -> bool {
        self.cur >= self.src.len()
    }

    fn advance(&mut self) -> u8 {
        let c = self.peek();
        self.cur += 1;
        c
    }

    fn matches(&mut self, c: u8) -> bool {
        if !self.at_end() && self.peek() == c {
            self.cur += 1;
            true
        } else {
            false
        }
    }

    fn make(&self, kind: Tok) -> Token<'s> {
        Token {
            kind,
            text: &self.src[self.start..self.cur],
            line: self.line,
        }
    }

    fn error(&self, msg: &'static str) -> Token<'s> {
        Token {
            kind: Tok::Error,
            text: msg,
            line: self.line,
        }
    }

    fn skip_space(&mut self) {
        loop {
            match self.peek() {
                b' ' | b'\r' | b'\t' => {
                    self.cur += 1;
                }
                b'\n' => {
                    self.line += 1;
                    self.cur += 1;
                }
                b'/' if self.peek_next() == b'/' => {
                    while self.peek() != b'\n' && !self.at_end() {
                        self.cur += 1;
                    }
                }
                _ => return,
            }
        }
    }

    pub fn next_token(&mut self) -> Token<'s> {
        self.skip_space();
        self.start = self.cur;
        if self.at_end() {
            return self.make(Tok::Eof);
        }
        let c = self.advance();
        if c.is_ascii_alphabetic() || c == b'_' {
            while self.peek().is_ascii_alphanumeric() || self.peek() == b'_' {
                self.cur += 1;
            }
            return self.make(keyword(&self.src[self.start..self.cur]));
        }
        if c.is_ascii_digit() {
            while self.peek().is_ascii_digit() {
                self.cur += 1;
            }
            if self.peek() == b'.' && self.peek_next().is_ascii_digit() {
                self.cur += 1;
                while self.peek().is_ascii_digit() {
                    self.cur += 1;
                }
            }
            return self.make(Tok::Number);
        }
        let kind = match c {
            b'(' => Tok::LeftParen,
            b')' => Tok::RightParen,
            b'{' => Tok::LeftBrace,
            b'}' => Tok::RightBrace,
            b';' => Tok::Semicolon,
            b',' => Tok::Comma,
            b'.' => Tok::Dot,
            b'-' => Tok::Minus,
            b'+' => Tok::Plus,
            b'/' => Tok::Slash,
            b'*' => Tok::Star,
            b'!' => {
                if self.matches(b'=') {
                    Tok::BangEqual
                } else {
                    Tok::Bang
                }
            }
            b'=' => {
                if self.matches(b'=') {
                    Tok::EqualEqual
                } else {
                    Tok::Equal
                }
            }
            b'<' => {
                if self.matches(b'=') {
                    Tok::LessEqual
                } else {
                    Tok::Less
                }
            }
            b'>' => {
                if self.matches(b'=') {
                    Tok::GreaterEqual
                } else {
                    Tok::Greater
                }
            }
            b'"' => {
                while self.peek() != b'"' && !self.at_end() {
                    if self.peek() == b'\n' {
                        self.line += 1;
                    }
                    self.cur += 1;
                }
                if self.at_end() {
                    return self.error("Unterminated string.");
                }
                self.cur += 1;
                Tok::String
            }
            _ => {
                // Skip the rest of a multi-byte character so that slicing stays on a boundary.
                while !self.src.is_char_boundary(self.cur) {
                    self.cur += 1;
                }
                return self.error("Unexpected character.");
            }
        };
        self.make(kind)
    }
}

fn keyword(s: &str) -> Tok {
    match s {
        "and" => Tok::And,
        "class" => Tok::Class,
        "else" => Tok::Else,
        "false" => Tok::False,
        "for" => Tok::For,
        "fun" => Tok::Fun,
        "if" => Tok::If,
        "nil" => Tok::Nil,
        "or" => Tok::Or,
        "print" => Tok::Print,
        "return" => Tok::Return,
        "super" => Tok::Super,
        "this" => Tok::This,
        "true" => Tok::True,
        "var" => Tok::Var,
        "while" => Tok::While,
        _ => Tok::Identifier,
    }
}
