//! [`Drive`]: the MMC commands sent over a [`Transport`], parsed.

use aj_core::Lba;

use super::*;
use crate::transport::Transport;

/// A CD drive: real (SG_IO) or virtual, behind the same transport.
pub struct Drive {
    transport: Box<dyn Transport>,
}

impl std::fmt::Debug for Drive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drive")
            .field("name", &self.transport.name())
            .finish()
    }
}

impl Drive {
    /// Wraps a transport.
    pub fn new(transport: Box<dyn Transport>) -> Drive {
        Drive { transport }
    }

    /// The device path or image spec, for messages.
    pub fn name(&self) -> String {
        self.transport.name()
    }

    /// The transport, for commands this type does not wrap.
    pub fn transport(&mut self) -> &mut dyn Transport {
        self.transport.as_mut()
    }

    /// Sends `cmd` and returns the bytes the drive transferred.
    ///
    /// # Errors
    /// Whatever the transport reports: sense data, timeouts, I/O errors.
    pub fn execute(&mut self, cmd: &Command) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; cmd.transfer_len];
        let n = self
            .transport
            .execute(&cmd.cdb, cmd.direction, &mut buf, cmd.timeout)?;
        buf.truncate(n.min(cmd.transfer_len));
        Ok(buf)
    }

    /// INQUIRY.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] for unparsable data.
    pub fn inquiry(&mut self) -> Result<Inquiry, Error> {
        parse_inquiry(&self.execute(&inquiry())?)
    }

    /// TEST UNIT READY: `Ok` when a disc is in and ready.
    ///
    /// # Errors
    /// [`Error::Check`] with the sense data (no medium, becoming ready…).
    pub fn test_unit_ready(&mut self) -> Result<(), Error> {
        self.execute(&test_unit_ready()).map(|_| ())
    }

    /// Waits up to `tries` seconds while the drive reports "becoming ready"
    /// or a unit attention (a disc was just inserted), then reports its state.
    ///
    /// # Errors
    /// As [`Drive::test_unit_ready`] once retrying stops helping.
    pub fn wait_ready(&mut self, tries: u32) -> Result<(), Error> {
        let mut n = 0;
        loop {
            match self.test_unit_ready() {
                Err(Error::Check { sense, .. }) if sense.is_retryable() && n + 1 < tries => {
                    n += 1;
                    if sense.key != sense::KEY_UNIT_ATTENTION {
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                }
                other => return other,
            }
        }
    }

    /// REQUEST SENSE.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] for unparsable data.
    pub fn request_sense(&mut self) -> Result<Sense, Error> {
        parse_request_sense(&self.execute(&request_sense())?)
    }

    /// GET CONFIGURATION.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] for unparsable data.
    pub fn configuration(&mut self) -> Result<Configuration, Error> {
        parse_configuration(&self.execute(&get_configuration())?)
    }

    /// MODE SENSE(10), page 2Ah.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] for unparsable data.
    pub fn capabilities(&mut self) -> Result<Capabilities, Error> {
        parse_capabilities(&self.execute(&mode_sense_capabilities())?)
    }

    /// READ TOC format 0.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] for an inconsistent TOC.
    pub fn toc(&mut self) -> Result<Toc, Error> {
        parse_toc(&self.execute(&read_toc(TOC_FORMATTED, 0))?)
    }

    /// READ TOC format 1.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] for unparsable data.
    pub fn session_info(&mut self) -> Result<SessionInfo, Error> {
        parse_session_info(&self.execute(&read_toc(TOC_SESSION_INFO, 0))?)
    }

    /// READ TOC format 2 (full TOC), from session 1.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] for unparsable data.
    pub fn full_toc(&mut self) -> Result<FullToc, Error> {
        parse_full_toc(&self.execute(&read_toc(TOC_FULL, 1))?)
    }

    /// READ TOC format 4 (ATIP).
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] when the disc has no ATIP.
    pub fn atip(&mut self) -> Result<Atip, Error> {
        parse_atip(&self.execute(&read_toc(TOC_ATIP, 0))?)
    }

    /// READ TOC format 5: the raw CD-TEXT packs (empty when there are none;
    /// drives that answer "invalid field" for a disc without CD-TEXT give
    /// an empty list too).
    ///
    /// # Errors
    /// Transport errors other than that.
    pub fn cd_text_packs(&mut self) -> Result<Vec<[u8; 18]>, Error> {
        match self.execute(&read_toc(TOC_CD_TEXT, 0)) {
            Ok(r) => parse_cd_text(&r),
            Err(Error::Check { sense, .. }) if sense.key == sense::KEY_ILLEGAL_REQUEST => {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// READ SUB-CHANNEL: the MCN, if the disc has one.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] for unparsable data.
    pub fn mcn(&mut self) -> Result<Option<String>, Error> {
        parse_sub_channel_mcn(&self.execute(&read_sub_channel(SubChannelRequest::Mcn))?)
    }

    /// READ SUB-CHANNEL: the ISRC of `track`, if it has one.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] for unparsable data.
    pub fn isrc(&mut self, track: u8) -> Result<Option<String>, Error> {
        parse_sub_channel_isrc(&self.execute(&read_sub_channel(SubChannelRequest::Isrc(track)))?)
    }

    /// READ CD of `count` CD-DA sectors; split the result with
    /// [`split_read_cd`].
    ///
    /// # Errors
    /// Transport errors (a medium error names the LBA that failed).
    pub fn read_cd(
        &mut self,
        lba: Lba,
        count: u32,
        c2: C2Mode,
        sub: SubChannel,
    ) -> Result<Vec<u8>, Error> {
        let cmd = super::read_cd(lba, count, c2, sub);
        let r = self.execute(&cmd)?;
        if r.len() != cmd.transfer_len {
            return Err(bad(
                "READ CD",
                format!("{} of {} bytes transferred", r.len(), cmd.transfer_len),
            ));
        }
        Ok(r)
    }

    /// The Q sub-channel of one sector, decoded (CRC checked).
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] when the Q frame is damaged.
    pub fn read_q(&mut self, lba: Lba) -> Result<subq::QFrame, Error> {
        let r = self.read_cd(lba, 1, C2Mode::None, SubChannel::Q)?;
        let q = r
            .get(CDDA_SECTOR..CDDA_SECTOR + subq::Q_LEN)
            .ok_or_else(|| bad("READ CD", "no sub-channel in the response"))?;
        subq::decode(q).map_err(|e| bad("READ CD", e.to_string()))
    }

    /// The Q sub-channel of one sector of any type (audio or data), decoded
    /// (CRC checked): READ CD with expected sector type "any" and every
    /// field of the main channel, so that every sector is 2352 bytes.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] when the Q frame is damaged.
    pub fn read_q_any(&mut self, lba: Lba) -> Result<subq::QFrame, Error> {
        let mut cmd = super::read_cd(lba, 1, C2Mode::None, SubChannel::Q);
        // MMC-6 §6.19, READ CD: expected sector type 000b (any); byte 9 F8h
        // (sync, all headers, user data and EDC/ECC) makes 2352 bytes for
        // every sector type.
        cmd.cdb[1] = 0;
        cmd.cdb[9] = 0xF8;
        let r = self.execute(&cmd)?;
        let q = r
            .get(CDDA_SECTOR..CDDA_SECTOR + subq::Q_LEN)
            .ok_or_else(|| bad("READ CD", "no sub-channel in the response"))?;
        subq::decode(q).map_err(|e| bad("READ CD", e.to_string()))
    }

    /// SET CD SPEED (kB/s; `None` for the maximum).
    ///
    /// # Errors
    /// Transport errors.
    pub fn set_speed(&mut self, read_kbs: Option<u16>) -> Result<(), Error> {
        self.execute(&set_cd_speed(read_kbs.unwrap_or(0xFFFF), 0xFFFF))
            .map(|_| ())
    }

    /// Opens the tray (unlocking it first).
    ///
    /// # Errors
    /// Transport errors (a drive whose tray is locked by another program
    /// reports "medium removal prevented").
    pub fn eject(&mut self) -> Result<(), Error> {
        // Our own lock, if any, would stop the eject.
        let _ = self.execute(&prevent_allow(false));
        self.execute(&start_stop_unit(TrayAction::Eject))
            .map(|_| ())
    }

    /// Closes the tray.
    ///
    /// # Errors
    /// Transport errors.
    pub fn load(&mut self) -> Result<(), Error> {
        self.execute(&start_stop_unit(TrayAction::Load)).map(|_| ())
    }

    /// PREVENT ALLOW MEDIUM REMOVAL.
    ///
    /// # Errors
    /// Transport errors.
    pub fn lock(&mut self, prevent: bool) -> Result<(), Error> {
        self.execute(&prevent_allow(prevent)).map(|_| ())
    }

    /// GET EVENT STATUS NOTIFICATION, media class.
    ///
    /// # Errors
    /// Transport errors; [`Error::BadResponse`] when no media event is available.
    pub fn media_status(&mut self) -> Result<MediaStatus, Error> {
        parse_event_status(&self.execute(&get_event_status_media())?)
    }
}
