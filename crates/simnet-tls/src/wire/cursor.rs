//! A bounds-checked reader over a byte slice: every read returns `None`
//! instead of panicking when the bytes run out.

pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Some(head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A vector with a one-byte length.
    pub(crate) fn vec8(&mut self) -> Option<Cursor<'a>> {
        let n = usize::from(self.u8()?);
        self.take(n).map(Cursor::new)
    }

    /// A vector with a two-byte length.
    pub(crate) fn vec16(&mut self) -> Option<Cursor<'a>> {
        let n = usize::from(self.u16()?);
        self.take(n).map(Cursor::new)
    }

    /// A vector with a three-byte length.
    pub(crate) fn vec24(&mut self) -> Option<Cursor<'a>> {
        let n = self.u24()?;
        self.take(n).map(Cursor::new)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }
}
